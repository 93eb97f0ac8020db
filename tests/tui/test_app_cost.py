"""What the app itself does while a run goes on: as little as it can beside the experiment.

Counts, not times: a flood of progress events must not become a flood of redraws, and a
status that keeps its height must not lay the whole screen out again.
"""

import pytest
from textual.widgets import Button

from cpulab.engine.events import Error, Phase, Progress, Started
from cpulab.monitor.sampler import CoreSample
from cpulab.ui.app import CpulabApp
from cpulab.ui.widgets import CoreGrid, RunStatus
from support.tui import ScriptedSupervisor, make_app, wait_for

TREES = 300
FLOOD = (
    Started(pid=4242, pgid=4242, t=0.0),
    Phase(name="fit", t=0.0, repeat=1),
    *(Progress(done=n, total=TREES, unit="trees", t=0.0) for n in range(1, TREES + 1)),
)


def count_calls(monkeypatch, cls, name: str, record) -> list:
    calls: list = []
    original = getattr(cls, name)

    def counted(self, *args, **kwargs):
        calls.append(record(*args, **kwargs))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, name, counted)
    return calls


async def test_a_flood_of_progress_events_is_drawn_a_few_times(monkeypatch):
    updates = count_calls(monkeypatch, RunStatus, "update", lambda text, **_: str(text))
    app = make_app(supervisor=ScriptedSupervisor(FLOOD))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("r")
        status = app.query_one(RunStatus)
        # The last count shows with the next redraw of the elapsed time, within a second.
        await wait_for(pilot, lambda: f"{TREES}/{TREES} trees" in str(status.render()))
        assert app._progress is not None and app._progress.done == TREES  # every one handled
        running = [text for text in updates if text.startswith("●")]
        assert 2 <= len(running) <= 10, running  # not one a progress event
        # The phase and its first progress wait for the next sample's frame, and are drawn
        # as they are by then: here every event came in one go.
        counted = [text for text in running if "trees" in text]
        assert counted[0].endswith(f" {TREES}/{TREES} trees"), counted
        await pilot.press("c")


async def test_the_status_lays_the_screen_out_only_when_its_height_changes(monkeypatch):
    layouts = count_calls(monkeypatch, RunStatus, "refresh", lambda *_, layout=False, **__: layout)
    app = make_app(supervisor=ScriptedSupervisor(FLOOD[:2]))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("r")
        await wait_for(pilot, lambda: app._phase is not None)
        await pilot.pause()
        status = app.query_one(RunStatus)
        spec, phase = app._session.points[0], app._phase
        layouts.clear()
        for second in range(1, 30):  # a running status keeps room for a progress line
            progress = (
                Progress(done=second % 9, total=9, unit="folds", t=0.0) if second % 2 else None
            )
            status.show_running(spec, phase, progress, float(second))
            await pilot.pause()
        status.show_idle()  # fewer lines than it keeps
        await pilot.pause()
        assert not any(layouts)
        cause = "a cause long enough to wrap twice in the run panel, " * 3
        status.show_error(Error(type="RuntimeError", message="it broke", stderr_tail=cause))
        await pilot.pause()
        assert any(layouts)  # taller than it keeps: the panel grows
        await pilot.press("c")


async def test_a_run_leaves_the_footer_and_screen_as_they_are_and_a_key_that_cannot_act_says_why(
    monkeypatch,
):
    from textual.widgets import Footer

    recomposed = count_calls(monkeypatch, Footer, "recompose", lambda *_, **__: True)
    # `running` as a reactive of the app repainted the whole screen at each start and end.
    repainted = count_calls(monkeypatch, CpulabApp, "refresh", lambda *_, **__: True)
    supervisor = ScriptedSupervisor(FLOOD[:2])
    app = make_app(supervisor=supervisor)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        recomposed.clear()
        repainted.clear()
        await pilot.press("r")
        await wait_for(pilot, lambda: app._phase is not None)
        assert app.query_one("#run", Button).disabled
        await pilot.press("r")  # a second run while one goes: not started, and said so
        await pilot.pause()
        assert len(supervisor.specs) == 1
        assert any("c cancels it" in n.message for n in app._notifications)
        await pilot.press("c")
        await wait_for(pilot, lambda: not app.running)
        await pilot.pause()
        assert not app.query_one("#run", Button).disabled
        assert recomposed == []  # 30 ms at each start and end of a run, when it was
        assert repainted == []
        await pilot.press("c")
        await pilot.pause()
        assert any(n.message == "Nothing is running." for n in app._notifications)


async def test_at_80x24_a_run_moves_the_focus_to_the_results_and_the_footer_stays(monkeypatch):
    from textual.widgets import Footer

    recomposed = count_calls(monkeypatch, Footer, "recompose", lambda *_, **__: True)
    app = make_app(supervisor=ScriptedSupervisor(FLOOD[:2]))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        recomposed.clear()
        await pilot.press("r")  # the results view, the focus on the table: the same keys
        await wait_for(pilot, lambda: app._phase is not None)
        await pilot.pause()
        assert app.focused is not None and app.focused.id == "results"
        assert recomposed == []
        await pilot.press("c")


async def test_a_hidden_core_grid_is_not_repainted_and_shows_the_latest_sample(monkeypatch):
    # At 80x24 the cores are off screen until a run or v shows them. Repainting them
    # there had Textual arrange the whole screen anew at every sample.
    repaints = count_calls(monkeypatch, CoreGrid, "refresh", lambda *_, **__: True)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        grid = app.query_one(CoreGrid)
        repaints.clear()
        for busy in (10.0, 40.0, 70.0, 87.0):
            grid.sample = CoreSample(cpus=grid.cpus, percents=(busy,) * len(grid.cpus))
            await pilot.pause()
        assert repaints == []
        await pilot.press("v")  # the results view: the cores with the table
        await pilot.pause()
        assert_drawn(app, grid.sample)  # the app's own sampler goes on too: its latest


async def test_cores_shown_again_at_the_same_size_show_what_came_while_hidden():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:  # every panel on screen
        grid = app.query_one(CoreGrid)
        grid.sample = CoreSample(cpus=grid.cpus, percents=(13.0,) * len(grid.cpus))
        await pilot.pause()
        work = app.query_one("#work")
        work.display = False  # a panel above the grid, not the grid itself
        await pilot.pause()
        grid.sample = CoreSample(cpus=grid.cpus, percents=(87.0,) * len(grid.cpus))
        await pilot.pause()
        work.display = True
        await pilot.pause()
        await pilot.pause()
        assert_drawn(app, grid.sample)


def assert_drawn(app, sample: CoreSample) -> None:
    """Every core's percentage of `sample` is on the screen as drawn, not only as the
    grid would draw it now."""
    screen = app.export_screenshot()
    missing = [busy for busy in sample.percents if f"{busy:.0f}%" not in screen]
    assert not missing, f"not on screen: {missing}"


def record_restyles(monkeypatch) -> list[list[str]]:
    """Each restyle from now on, as the ids (or types) of the widgets it restyles."""
    from textual.css.stylesheet import Stylesheet

    restyled: list[list[str]] = []
    update_nodes = Stylesheet.update_nodes

    def recorded(self, nodes, animate=False):
        nodes = list(nodes)  # walk_children may hand a generator: read once, passed on
        restyled.append([node.id or type(node).__name__ for node in nodes])
        return update_nodes(self, nodes, animate=animate)

    monkeypatch.setattr(Stylesheet, "update_nodes", recorded)
    return restyled


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)])
async def test_the_screen_is_styled_once_at_start_whatever_its_size(monkeypatch, size):
    # Each widget is styled as it mounts, and never all of them again: not by the first
    # Resize (the breakpoint classes are given before), nor by the screen's first resume.
    restyled = record_restyles(monkeypatch)
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        whole = [len(nodes) for nodes in restyled if "_default" in nodes]
        assert whole == []
        width, height = size
        assert app.screen.has_class(
            "-narrow" if width < 110 else "-medium" if width < 180 else "-wide"
        )
        assert app.screen.has_class("-short" if height < 32 else "-tall")


async def restyles_of_a_focus_move(pilot, monkeypatch, start: str, end: str) -> list[list[str]]:
    pilot.app.query_one(start).focus()
    await pilot.pause()
    restyled = record_restyles(monkeypatch)
    pilot.app.query_one(end).focus()
    await pilot.pause()
    return restyled


async def test_the_focus_leaving_a_panel_restyles_the_panel_not_what_is_in_it(monkeypatch):
    # With :focus-within Textual restyled the Run panel's 18 widgets as the focus left it.
    async with make_app().run_test(size=(120, 40)) as pilot:
        restyled = await restyles_of_a_focus_move(pilot, monkeypatch, "#train", "#results")
        assert max(map(len, restyled)) <= 3, restyled  # the focused, the blurred, the panels
        assert ["controls"] in restyled  # the panel it left, alone


@pytest.mark.parametrize("size", [(80, 24), (200, 60)])
async def test_the_panel_holding_the_focus_and_only_it_is_marked(size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        for _ in range(8):  # round the panels and the fields inside them
            await pilot.press("tab")
            await pilot.pause()
            focused = app.focused
            # Marked by -holds-focus where the focus is inside it, by :focus where on it.
            marked = [w.id for w in app.query(".panel.-holds-focus, .panel:focus")]
            holding = [w.id for w in focused.ancestors_with_self if w.has_class("panel")]
            assert marked == holding, (focused, marked)
            assert not focused.has_class("-holds-focus")


async def test_the_focus_moving_between_panels_that_take_it_restyles_each_once(monkeypatch):
    # Textual restyles each at its Blur and Focus for :focus; marking them restyled both
    # a second time.
    async with make_app().run_test(size=(120, 40)) as pilot:
        restyled = await restyles_of_a_focus_move(pilot, monkeypatch, "#tasks", "#results")
        assert sorted(restyled) == [["results"], ["tasks"]], restyled


async def test_a_change_of_view_restyles_only_what_the_views_rules_name(monkeypatch):
    # Textual restyled all 28 widgets under #main at each change of view, as each run
    # starts at 80x24: the fields of the Run panel, the labels, the buttons.
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        restyled = record_restyles(monkeypatch)
        await pilot.press("v")
        await pilot.pause()
        whole = len(app.query_one("#main").walk_children(with_self=True))
        (switch,) = [nodes for nodes in restyled if "main" in nodes]
        assert len(switch) < whole / 2 + 1, switch
        assert {"side", "work", "cores", "results", "chart"} <= set(switch)
        assert "train" not in switch and "description" not in switch
