"""The command palette: every action of the app, found by name, with the key that does it."""

from dataclasses import replace

from textual.command import CommandList, CommandPalette

from cpulab.engine.machine import machine_facts
from cpulab.engine.store import ResultStore
from cpulab.ui.commands import CpulabCommands
from cpulab.ui.screens.sweep_dialog import SweepDialog
from cpulab.ui.screens.theme_picker import ThemePicker
from support.tui import make_app, make_result, wait_for


async def hits(app, query: str = "") -> list:
    """What the palette's provider offers for `query` (discovery when empty), on the
    screen the palette would open over."""
    provider = CpulabCommands(app.screen)
    found = provider.search(query) if query else provider.discover()
    return [hit async for hit in found]


def shown(app) -> list[str]:
    """The names the open palette lists, best first."""
    commands = app.screen.query_one(CommandList)
    return [
        str(commands.get_option_at_index(i).prompt).split("\n")[0]
        for i in range(commands.option_count)
    ]


def opened(app, kind) -> bool:
    """Whether a screen of `kind` is on top and mounted: it has taken the focus."""
    return isinstance(app.screen, kind) and app.screen.focused is not None


async def palette_search(pilot, text: str) -> None:
    await pilot.press("ctrl+p")
    await wait_for(pilot, lambda: CommandPalette.is_open(pilot.app))
    await pilot.press(*text)
    await wait_for(pilot, lambda: pilot.app.screen.query_one(CommandList).option_count > 0)


async def test_searching_sweep_finds_the_sweep_command_which_opens_the_dialog():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await palette_search(pilot, "sweep")
        assert shown(app)[0] == "Sweep"
        await pilot.press("enter")
        await wait_for(pilot, lambda: opened(app, SweepDialog))


async def test_escape_closes_the_palette():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await palette_search(pilot, "run")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not CommandPalette.is_open(app))
        assert app.screen is app.screen_stack[0]


async def test_a_task_command_chooses_the_task_in_the_list():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.chosen_task.name == "rf-train"
        await palette_search(pilot, "cv-eval")
        assert shown(app)[0].startswith("Task cv-eval")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.chosen_task.name == "cv-eval")


async def test_a_scale_command_presses_its_button():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        (full,) = [hit for hit in await hits(app, "scale full") if hit.text == "Scale full"]
        full.command()
        await wait_for(pilot, lambda: app.scale == "full")


async def test_each_hit_names_its_key_as_the_keymap_has_it():
    app = make_app()
    async with app.run_test(size=(120, 40)):
        (sweep,) = [hit for hit in await hits(app, "sweep") if hit.text == "Sweep"]
        assert sweep.help.endswith("· key w")
        (quit_,) = [hit for hit in await hits(app, "quit") if hit.text == "Quit"]
        assert "key q or ^q" in quit_.help
        app.update_keymap({"sweep": "ctrl+k"})  # looked up as the palette searches
        (sweep,) = [hit for hit in await hits(app, "sweep") if hit.text == "Sweep"]
        assert sweep.help.endswith("· key ^k")


async def test_discovery_lists_the_actions_and_leaves_tasks_and_scales_to_search():
    app = make_app()
    async with app.run_test(size=(120, 40)):
        names = [hit.text for hit in await hits(app)]
        for name in ("Run", "Sweep", "Cancel", "Filter", "Delete", "Undo delete", "Theme"):
            assert name in names
        assert names.count("Theme") == 1 and names.count("Quit") == 1  # Textual's replaced
        assert "Screenshot" in names
        assert not [name for name in names if name.startswith(("Task ", "Scale "))]
        assert not [name for name in names if name.startswith("Export")]  # no store


async def test_over_a_dialog_only_quitting_and_textuals_commands_are_offered():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await app.run_action("pick_theme")
        await wait_for(pilot, lambda: opened(app, ThemePicker))
        names = [hit.text for hit in await hits(app)]
        assert "Quit" in names
        assert not {"Run", "Sweep", "Theme"} & set(names)


async def test_export_writes_the_tasks_results_in_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with ResultStore.open(tmp_path / "history.sqlite") as store:
        store.add_point(replace(make_result("rf-train", 2, 1, 1.1), machine=machine_facts()))
        app = make_app(store=store)
        async with app.run_test(size=(120, 40)) as pilot:
            names = [hit.text for hit in await hits(app, "export")]
            assert {"Export results as JSON", "Export results as CSV"} <= set(names)
            (csv,) = [hit for hit in await hits(app, "export") if hit.text.endswith("CSV")]
            csv.command()
            await wait_for(pilot, lambda: list(tmp_path.glob("cpulab-rf-train-*.csv")))
            (written,) = tmp_path.glob("cpulab-rf-train-*.csv")
            assert written.read_text().splitlines()[0].startswith("point_id,")
            await wait_for(
                pilot, lambda: any(str(written) in n.message for n in app._notifications)
            )
