"""The app driven by keys through Textual's pilot, on a fake machine and fake runs."""

from textual.widgets import Button, Input, Static

from cpulab.ui.messages import RunEvent
from cpulab.ui.screens.theme_picker import ThemePicker
from cpulab.ui.widgets import CoreGrid, ResultsTable, RunStatus, ScalingChart, SplitControl
from support.tui import THREE_RESULTS, ScriptedSupervisor, make_app, sampled, wait_for


def verdict(app) -> Static:
    return app.query_one("#verdict", Static)


async def type_into(pilot, selector: str, text: str) -> None:
    field = pilot.app.query_one(selector, Input)
    field.focus()
    field.clear()
    await pilot.press(*text)


async def test_choosing_a_task_shows_its_description_and_checks_the_split():
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        assert app.chosen_task.name == "rf-train"
        await pilot.press("down")
        assert app.chosen_task.name == "cv-eval"
        about = str(app.query_one("#description", Static).render())
        assert "Repeated k-fold evaluation" in about
        assert "evaluation cores" in about
        await pilot.press("enter")  # choosing a task moves on to its split
        assert app.focused is app.query_one("#train")
        assert app.query_one(SplitControl).chosen_task.name == "cv-eval"


async def test_changing_the_split_shows_the_product_and_oversubscription():
    app = make_app(cores=2)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("down")  # cv-eval honours both knobs
        await type_into(pilot, "#eval", "2")
        split = app.query_one(SplitControl).split
        assert (split.train, split.eval, split.total) == (1, 2, 2)
        assert "= 2 of 2 cores" in str(verdict(app).render())
        await type_into(pilot, "#train", "2")
        assert verdict(app).has_class("-warning")
        assert "oversubscribed" in str(verdict(app).render())
        await pilot.press("down")  # steps down, never below one core
        await pilot.press("down")
        assert app.query_one("#train", Input).value == "1"
        await type_into(pilot, "#eval", "-1")  # joblib's "every core"
        assert app.query_one(SplitControl).split.eval == 2


async def test_an_invalid_split_is_refused_with_its_reason():
    supervisor = ScriptedSupervisor()
    app = make_app(supervisor=supervisor)
    async with app.run_test(size=(100, 30)) as pilot:
        await type_into(pilot, "#train", "0")
        assert verdict(app).has_class("-error")
        assert "training cores cannot be 0" in str(verdict(app).render())
        assert app.query_one("#run", Button).disabled
        await pilot.press("r")
        await pilot.pause()
        assert not app.running and supervisor.specs == []
        assert any("cannot be 0" in n.message for n in app._notifications)

        # rf-train has no evaluation knob: cores there would sit idle.
        await type_into(pilot, "#train", "1")
        await type_into(pilot, "#eval", "2")
        assert "no evaluation cores knob" in str(verdict(app).render())
        await pilot.press("r")
        await pilot.pause()
        assert supervisor.specs == []


async def test_letters_typed_in_a_core_field_reach_the_app_keys():
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await type_into(pilot, "#eval", "1s")  # s: the chart's time/speedup key
        assert app.query_one("#eval", Input).value == "1"
        assert app.query_one(ScalingChart).speedup


async def test_every_control_is_reachable_with_the_keyboard():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:  # smaller, one panel at a time shows
        seen = []
        for _ in range(8):
            seen.append(app.focused.id)
            await pilot.press("tab")
        assert seen[:7] == ["tasks", "about", "train", "eval", "scale", "run", "results"]


async def test_a_run_shows_its_phase_and_progress_and_cancel_ends_it():
    supervisor = ScriptedSupervisor()
    app = make_app(supervisor=supervisor)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("r")
        # Drawn with the next sample's cores, in one frame: within a sample's period.
        await wait_for(pilot, lambda: "12/30 folds" in str(app.query_one(RunStatus).render()))
        status = str(app.query_one(RunStatus).render())
        assert "rf-train 1 x 1" in status and "fitting" in status
        assert app.query_one("#cancel", Button).disabled is False
        await pilot.press("r")  # a second run waits for the first
        assert len(supervisor.specs) == 1
        await pilot.press("c")
        await wait_for(pilot, lambda: not app.running)
        assert app.query_one(RunStatus).has_class("-cancelled")
        assert app.sampler.watched is None


async def test_the_app_survives_a_resize_mid_run():
    app = make_app(cores=16, supervisor=ScriptedSupervisor())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("r")
        await wait_for(pilot, lambda: app._progress is not None)
        await pilot.press("v")  # the results view: what small sizes show of the work panel
        for size in ((80, 24), (60, 20), (200, 60)):
            await pilot.resize_terminal(*size)
            await pilot.pause()
            assert app.running
            grid = app.query_one(CoreGrid)
            assert grid.render_line(0).text.startswith("16 cores")


async def test_results_fill_the_table_and_the_chart():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        for result in THREE_RESULTS:
            app.post_message(RunEvent(result))
        await wait_for(pilot, lambda: len(app.results) == 3)
        table = app.query_one(ResultsTable)
        rows = [[str(cell) for cell in table.cells(i)] for i in range(table.row_count)]
        assert [row[6] for row in rows] == ["1.00x", "1.82x", "-"]
        assert rows[0][3:6] == ["2.000 s", "0.000", "1"]  # median, MAD, n
        assert rows[2][9] == "oversubscribed, noisy machine"
        chart = app.query_one(ScalingChart)
        assert len(chart.results) == 3
        await pilot.press("s")
        assert chart.border_title == "Speedup over 1 x 1 · this session"


async def test_t_picks_a_theme():
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        assert app.theme == "cpulab-dark"
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, ThemePicker) and app.screen.focused)
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, ThemePicker))
        assert app.theme == "cpulab-light"
        await sampled(pilot)


async def test_an_invalid_user_theme_file_is_reported_and_the_app_falls_back(user_config):
    themes = user_config / "themes"
    themes.mkdir(parents=True)
    (themes / "broken.toml").write_text('name = "broken"\nprimary = "bluish"\n')
    app = make_app(theme="broken")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert app.theme == "cpulab-dark"
        messages = " ".join(n.message for n in app._notifications)
        assert "broken.toml" in messages and "'bluish' is not a colour" in messages
        assert "'broken' could not be used" in messages


async def test_a_sample_after_the_cancel_does_not_show_the_run_as_running():
    app = make_app(supervisor=ScriptedSupervisor())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("r")
        await wait_for(pilot, lambda: app._progress is not None)
        await pilot.press("c")
        status = app.query_one(RunStatus)
        await wait_for(pilot, lambda: status.has_class("-cancelled"))
        app._show_running()  # what a sample taken just before the run's end would do
        assert status.has_class("-cancelled")


async def keys_in_one_read(pilot, *keys: str) -> None:
    """Keys as the driver posts them from one read of the terminal (a paste, a slow link,
    a fast typist): all queued before the app handles the first."""
    from textual import events

    for key in keys:
        pilot.app.post_message(events.Key(key, key if len(key) == 1 else None))
    await pilot.pause()


async def test_keys_in_one_read_run_the_task_and_split_they_chose():
    supervisor = ScriptedSupervisor()
    app = make_app(supervisor=supervisor)
    async with app.run_test(size=(100, 30)) as pilot:
        await keys_in_one_read(pilot, "down", "r")  # cv-eval highlighted, then run
        await wait_for(pilot, lambda: supervisor.specs)
        assert supervisor.specs[-1].task.name == "cv-eval"
        assert app.query_one("#tasks").highlighted == 1
        await pilot.press("c")
        await wait_for(pilot, lambda: not app.running)
        app.query_one("#eval", Input).focus()
        await keys_in_one_read(pilot, "up", "tab", "r")  # a second evaluation core, run
        await wait_for(pilot, lambda: len(supervisor.specs) == 2)
        assert (supervisor.specs[-1].train, supervisor.specs[-1].eval) == (1, 2)
        await pilot.press("c")
        await wait_for(pilot, lambda: not app.running)
        app.query_one("#scale").focus()
        await keys_in_one_read(pilot, "right", "enter", "r")  # full scale pressed, run
        await wait_for(pilot, lambda: len(supervisor.specs) == 3)
        assert supervisor.specs[-1].scale == "full"
