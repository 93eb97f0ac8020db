"""The settings file in the app: keys changed by it, the theme kept across starts, broken
files reported; the help, the keys panel and dialogs closed with Escape; screenshots saved
where the user finds them."""

from pathlib import Path

import pytest
from textual.widgets import HelpPanel, RadioSet

from cpulab.engine.settings import load_settings, save_setting
from cpulab.engine.stats import analyse_results
from cpulab.ui.scaling import Entry
from cpulab.ui.screens.confirm import Confirm
from cpulab.ui.screens.filters import FilterDialog
from cpulab.ui.screens.help import HelpScreen
from cpulab.ui.screens.result_details import ResultDetails
from cpulab.ui.screens.sweep_dialog import SweepDialog
from cpulab.ui.screens.sweep_summary import SweepSummary
from cpulab.ui.screens.theme_picker import ThemePicker
from support.screens import screen_text
from support.tui import ScriptedSupervisor, make_app, make_result, wait_for

SIZE = (120, 40)


def settings_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    return path


def messages(app) -> str:
    return "\n".join(n.message for n in app._notifications)


async def test_a_key_from_the_settings_runs_its_action_and_the_old_key_no_longer_does(tmp_path):
    path = settings_file(tmp_path, '[keys]\nrun = "ctrl+r"\n')
    supervisor = ScriptedSupervisor()
    app = make_app(supervisor=supervisor, settings_file=path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r")
        await pilot.pause()
        assert supervisor.specs == [] and not app.running
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: len(supervisor.specs) == 1)
        assert app.running
        await pilot.press("c")


async def test_the_help_lists_every_key_with_the_settings_changes(tmp_path):
    path = settings_file(tmp_path, '[keys]\nsweep = "ctrl+w"\n')
    app = make_app(settings_file=path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = screen_text(app.screen)
        for description in ("Run", "Sweep", "Filter", "Undo delete", "Theme", "Quit"):
            assert description in text
        # The path, longer than a line where pytest's folders are deep, wraps mid-word.
        assert "".join(f"changed in {path}".split()) in "".join(text.split())
        assert 'sweep = "ctrl+w" (was w)' in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen))
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen))


async def test_escape_closes_the_keys_panel():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.action_show_help_panel()  # the command palette's "Keys"
        await wait_for(pilot, lambda: app.screen.query(HelpPanel))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not app.screen.query(HelpPanel))


@pytest.mark.parametrize(
    "open_dialog",
    [
        pytest.param(lambda app: app.action_sweep(), id="sweep"),
        pytest.param(lambda app: app.action_filters(), id="filters"),
        pytest.param(lambda app: app.push_screen(Confirm("Sure?", "Delete")), id="confirm"),
        pytest.param(
            lambda app: app.push_screen(ResultDetails(Entry(make_result("rf-train", 1, 1, 2.0)))),
            id="details",
        ),
        pytest.param(
            lambda app: app.push_screen(
                SweepSummary(
                    analyse_results([make_result("rf-train", 1, 1, 2.0)]), "t", "✓ finished"
                )
            ),
            id="summary",
        ),
    ],
)
async def test_escape_closes_every_dialog(open_dialog):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        main = app.screen
        open_dialog(app)
        await wait_for(pilot, lambda: app.screen is not main)
        assert isinstance(
            app.screen, SweepDialog | FilterDialog | Confirm | ResultDetails | SweepSummary
        )
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is main)


async def test_the_theme_chosen_in_the_app_is_there_at_the_next_start(tmp_path):
    path = settings_file(tmp_path, '# my settings\nsample_hz = 2  # slow\n\n[keys]\nrun = "r"\n')
    first = make_app(settings_file=path)
    async with first.run_test(size=SIZE) as pilot:
        assert first.theme == "cpulab-dark"
        await pilot.press("t")
        await wait_for(
            pilot, lambda: isinstance(first.screen, ThemePicker) and first.screen.focused
        )
        await pilot.press("down")  # a preview: not written
        await pilot.pause()
        assert load_settings(path).theme is None
        await pilot.press("enter")
        await wait_for(pilot, lambda: load_settings(path).theme == first.theme)
        chosen = first.theme
        assert chosen != "cpulab-dark"
    text = path.read_text()
    assert text.startswith(f'# my settings\nsample_hz = 2  # slow\ntheme = "{chosen}"\n\n[keys]')
    second = make_app(settings_file=path)
    async with second.run_test(size=SIZE):
        assert second.theme == chosen
        assert second.sample_hz == 2.0


def test_saving_a_setting_rewrites_only_its_line(tmp_path):
    path = settings_file(tmp_path, 'theme = "nord"  # dark\nscale = "full"\n')
    save_setting(path, "theme", "dracula")
    assert path.read_text() == 'theme = "dracula"\nscale = "full"\n'
    fresh = tmp_path / "new" / "settings.toml"
    save_setting(fresh, "theme", 'odd "name"')
    assert load_settings(fresh).theme == 'odd "name"'


async def test_the_settings_scale_is_the_one_chosen_at_the_start(tmp_path):
    app = make_app(settings_file=settings_file(tmp_path, 'scale = "full"\n'))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.query_one("#scale", RadioSet).pressed_index == 1)
        assert app.scale == "full"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("theme = ", "is not TOML"),
        ("sample_hz = true\n", "sample_hz must be a number"),
        ('scale = "huge"\n', "scale must be one of"),
        ('[keys]\nrun = "ctlr+r"\n', "'ctlr' is not a modifier"),
        ('colour = "red"\n', "unknown settings, left out: colour"),
        ('[keys]\nfly = "y"\n', "names no key binding fly"),
        ('theme = "no-such-theme"\n', "Theme 'no-such-theme' could not be used"),
    ],
)
async def test_a_broken_settings_file_is_a_notification_and_the_app_starts(tmp_path, text, said):
    app = make_app(settings_file=settings_file(tmp_path, text))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert said in messages(app)
        assert app.theme == "cpulab-dark"
        assert app.scale == "small"
        await pilot.press("r")  # the default keys work
        await wait_for(pilot, lambda: app.running or "Cannot run" in messages(app))
        await pilot.press("c")


async def test_a_screenshot_lands_in_a_missing_directory_which_is_made(tmp_path):
    shots = tmp_path / "not" / "yet"
    app = make_app(settings_file=settings_file(tmp_path, f'screenshot_dir = "{shots}"\n'))
    async with app.run_test(size=SIZE) as pilot:
        app.action_screenshot()
        await wait_for(pilot, lambda: list(shots.glob("*.svg")))
        (saved,) = shots.glob("*.svg")
        assert "<svg" in saved.read_text()
        await wait_for(pilot, lambda: str(saved) in messages(app))


async def test_a_screenshot_goes_to_the_current_directory_by_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.deliver_screenshot()  # what the command palette's Screenshot calls
        await wait_for(pilot, lambda: list(tmp_path.glob("*.svg")))
        (saved,) = tmp_path.glob("*.svg")
        await wait_for(pilot, lambda: str(saved) in messages(app))


async def test_a_screenshot_that_cannot_be_written_says_why(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    app = make_app(settings_file=settings_file(tmp_path, f'screenshot_dir = "{blocker}/x"\n'))
    async with app.run_test(size=SIZE) as pilot:
        app.action_screenshot()
        await wait_for(pilot, lambda: app._notifications)
        errors = [n for n in app._notifications if n.severity == "error"]
        assert len(errors) == 1
        assert errors[0].title == "Screenshot not saved"
        assert str(blocker) in errors[0].message and "Not a directory" in errors[0].message
