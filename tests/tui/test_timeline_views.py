"""The app's timeline views: a result's timeline (heat strip above a task Gantt, figures
below), zoomed and panned in time, from the results table and from the result's details;
and the core panel's last minute as a heat strip. Synthetic timelines, a fake sampler."""

from __future__ import annotations

import pytest
from textual.widgets import Static

from cpulab.engine.timeline import Timeline
from cpulab.monitor.sampler import MIN_HZ, CoreSample
from cpulab.ui.commands import CpulabCommands
from cpulab.ui.messages import RunEvent
from cpulab.ui.screens.help import HelpScreen
from cpulab.ui.screens.result_details import ResultDetails
from cpulab.ui.screens.timeline import (
    NO_CALL,
    TimelineScreen,
    TimelineView,
    figures_window,
    plan_rows,
    seconds_text,
)
from cpulab.ui.widgets import CoreGrid
from cpulab.ui.widgets.core_grid import CoreHistory
from support.screens import drawn_text, screen_text
from support.timelines import cv_timeline
from support.tui import make_app, make_result, sampled, wait_for

# cv-eval 1 x 2 small as a runner would record it: 30 folds on 2 worker processes.
CV_2 = cv_timeline(cores=2, workers=2)
# 30 folds on 8 workers of a 16-core machine: the last wave leaves 2 of 8 idle.
CV_8 = cv_timeline(cores=16, workers=8)


def timed(timeline: Timeline, cores: int, workers: int):
    return make_result("cv-eval", 1, workers, 1.5, available=cores, timeline=timeline.to_dict())


async def with_result(pilot, result) -> None:
    await sampled(pilot)
    pilot.app.post_message(RunEvent(result))
    await wait_for(pilot, lambda: len(pilot.app.results) == 1)
    pilot.app.query_one("#results").focus()


def view_of(app) -> TimelineView:
    assert isinstance(app.screen, TimelineScreen)
    return app.screen.query_one(TimelineView)


def window_line(app) -> str:
    return drawn_text(view_of(app).query_one("#window", Static)).strip()


async def test_l_opens_the_timeline_which_zooms_pans_resets_and_closes():
    app = make_app(cores=2)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_timeline(pilot, timed(CV_2, 2, 2))
        view = view_of(app)
        assert window_line(app) == "0.0 s - 6.5 s of 6.5 s (all)"
        heat = drawn_text(view.query_one("#heat", Static))
        gantt = drawn_text(view.query_one("#gantt", Static))
        assert "phase" in heat and "fit 1" in heat
        assert "pid 4200" in gantt and "pid 4201" in gantt
        figures = drawn_text(view.query_one("#figures", Static))
        assert "2 measured calls: 3.00 s on 2 cores given" in figures

        await pilot.press("plus")  # half the window, around its middle
        assert window_line(app) == "1.6 s - 4.9 s of 6.5 s"
        await pilot.press("plus", "plus")
        assert window_line(app) == "2.84 s - 3.66 s of 6.50 s"
        await pilot.press("right")  # a quarter of the window later
        assert window_line(app) == "3.05 s - 3.86 s of 6.50 s"
        for _ in range(40):  # never past the end of the run
            await pilot.press("right")
        assert window_line(app).startswith("5.69 s - 6.50 s")
        await pilot.press("minus")
        assert window_line(app) == "4.88 s - 6.50 s of 6.50 s"
        await pilot.press("0")
        assert window_line(app) == "0.0 s - 6.5 s of 6.5 s (all)"
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, TimelineScreen))


async def test_zoomed_in_the_axis_and_the_tasks_follow_the_window():
    app = make_app(cores=2)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_timeline(pilot, timed(CV_2, 2, 2))
        gantt = view_of(app).query_one("#gantt", Static)
        whole = drawn_text(gantt)
        await pilot.press("plus", "plus", "plus")
        zoomed = drawn_text(gantt)
        assert zoomed != whole
        # A fold is 0.1 s: zoomed to 0.8 s, each fold is several cells wide.
        row = zoomed.splitlines()[1]
        assert "████" in row and "▓▓▓▓" in row


async def test_enter_then_l_opens_it_from_the_result_details():
    app = make_app(cores=2)
    async with app.run_test(size=(80, 24)) as pilot:
        await with_result(pilot, timed(CV_8, 16, 8))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ResultDetails))
        await pilot.pause()
        details = app.screen
        text = " ".join(drawn_text(w) for w in details.query(Static))
        assert "last wave: 6 of 8 workers busy for 25 % of the time" in " ".join(text.split())
        await pilot.press("l")
        await wait_for(pilot, lambda: isinstance(app.screen, TimelineScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is details)  # back to the details


async def test_the_title_names_the_stored_result_it_is_of():
    app = make_app(cores=2)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(TimelineScreen(timed(CV_2, 2, 2), point_id=12))
        await wait_for(pilot, lambda: isinstance(app.screen, TimelineScreen))
        title = str(app.screen.query_one("#timeline").border_title)
        assert title == "Timeline · cv-eval 1 x 2 · #12"


async def test_a_result_measured_before_timelines_says_so_in_one_line():
    app = make_app(cores=2)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_timeline(pilot, make_result("cv-eval", 1, 2, 1.5))
        statics = list(app.screen.query(Static))
        assert [drawn_text(s).strip() for s in statics] == [
            "No timeline: this result was measured before timelines were recorded."
        ]
        await pilot.press("plus", "right", "0", "v")  # nothing to zoom: no harm done
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, TimelineScreen))


async def test_a_timeline_that_cannot_be_read_says_why():
    app = make_app(cores=2)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_timeline(
            pilot, make_result("cv-eval", 1, 2, 1.5, timeline={"timeline_version": 99})
        )
        (static,) = app.screen.query(Static)
        assert "cannot be read: timeline version 99" in " ".join(drawn_text(static).split())


async def test_a_timeline_without_a_measured_call_shows_what_it_has():
    app = make_app(cores=2)
    async with app.run_test(size=(80, 24)) as pilot:
        await with_result(pilot, timed(Timeline(), 2, 2))
        await pilot.press("l")
        await wait_for(pilot, lambda: isinstance(app.screen, TimelineScreen))
        await pilot.press("plus", "right", "0")
        text = screen_text(app.screen)
        for said in ("nothing recorded over time", "no core samples", "no tasks", NO_CALL):
            assert said in text


async def test_l_with_no_result_says_none_is_selected():
    app = make_app(cores=2)
    async with app.run_test(size=(80, 24)) as pilot:
        await sampled(pilot)
        await pilot.press("l")
        await pilot.pause()
        assert not isinstance(app.screen, TimelineScreen)
        assert any("No result is selected" in str(n.message) for n in app._notifications)


async def test_small_terminals_show_one_view_and_v_switches():
    app = make_app(cores=2)
    async with app.run_test(size=(80, 16)) as pilot:
        await open_timeline(pilot, timed(CV_8, 16, 8))
        view = view_of(app)
        heat, gantt = view.query_one("#heat", Static), view.query_one("#gantt", Static)
        assert not view.both and heat.display and not gantt.display
        assert "v cores/tasks" in str(app.screen.query_one("#timeline").border_subtitle)
        await pilot.press("v")
        assert gantt.display and not heat.display
        assert "pid 4207" in drawn_text(gantt)
        await pilot.resize_terminal(120, 50)  # room for both again
        await wait_for(pilot, lambda: view.both)
        assert heat.display and gantt.display


async def test_figures_that_do_not_fit_scroll_with_the_up_and_down_arrows():
    app = make_app(cores=2)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_timeline(pilot, timed(CV_8, 16, 8))
        view = view_of(app)
        figures = view.query_one("#figures", Static)
        # Compared less the space a line wrapped at: the screen does not keep it.
        every = [row.rstrip() for row in view._figure_rows(view.size.width)]

        def shown() -> list[str]:
            return [line.rstrip() for line in drawn_text(figures).rstrip("\n").split("\n")]

        first = shown()
        room = len(first)
        assert 2 <= room < len(every)  # this size leaves the figures a few rows
        assert first[:-1] == every[: room - 1]
        assert first[-1] == f"… lines 1-{room - 1} of {len(every)}: ↑/↓ show the others"
        await pilot.press("down")
        assert shown()[:-1] == every[1:room]
        await pilot.press(*["down"] * len(every))  # no further than the last line
        assert shown()[:-1] == every[len(every) - room + 1 :]
        assert shown()[-1].startswith(f"… lines {len(every) - room + 2}-{len(every)} of")
        await pilot.press("up")  # one line up from the last, however far past it
        assert shown()[:-1] == every[len(every) - room : -1]
        await pilot.press(*["up"] * (2 * len(every)))
        assert shown() == first
        window = window_line(app)
        await pilot.press("down")  # the arrows that pan are left and right
        assert window_line(app) == window


@pytest.mark.parametrize("size", [(60, 20), (80, 24), (160, 50), (200, 60)])
async def test_every_part_fits_its_width_and_the_screen(size):
    app = make_app(cores=2)
    async with app.run_test(size=size) as pilot:
        await open_timeline(pilot, timed(CV_8, 16, 8))
        view = view_of(app)
        used = sum(s.outer_size.height for s in view.query(Static) if s.display)
        assert used <= view.size.height
        for static in view.query(Static):
            lines = drawn_text(static).splitlines()
            assert all(len(line) <= view.size.width for line in lines)


def test_rows_go_to_both_views_where_they_fit_else_to_the_one_shown():
    # heat wants 20 rows, the Gantt 10, the figures 8.
    assert plan_rows(60, 20, 10, 8, "heat") == ((plan := plan_rows(60, 20, 10, 8, "heat"))[0], True)
    assert (plan[0].heat, plan[0].gantt, plan[0].figures) == (20, 10, 8)
    both, shown = plan_rows(22, 20, 10, 8, "heat")
    assert shown and both.heat + both.gantt + both.figures <= 22 and both.figures >= 3
    one, shown = plan_rows(12, 20, 10, 8, "gantt")
    assert not shown and one.heat == 0 and one.gantt == 9 and one.figures == 3


def test_the_window_line_has_the_decimals_its_width_needs():
    assert seconds_text(12.5, 30) == "12 s"  # Python rounds half to even
    assert seconds_text(12.25, 3) == "12.2 s"
    assert seconds_text(0.5, 0.2) == "0.50 s"
    assert seconds_text(0.5, 0.05) == "0.500 s"
    assert seconds_text(0.4995, 0.001) == "0.49950 s"  # the narrowest window: 1 ms


def test_a_row_or_none_left_for_the_figures_says_so_or_nothing():
    rows = ["a", "b", "c"]
    assert figures_window(rows, 3, 5) == (rows, 0, 0)
    assert figures_window(rows, 0, 0) == ([], 0, 0)
    alone = ["… 3 lines of figures: a taller window shows them"]
    assert figures_window(rows, 1, 0) == (alone, 0, 0)
    assert figures_window(rows, 2, 9) == (["c", "… lines 3-3 of 3: ↑/↓ show the others"], 2, 2)


async def test_the_help_and_the_palette_name_both_keys():
    app = make_app(cores=2)
    async with app.run_test(size=(120, 40)) as pilot:
        await sampled(pilot)
        provider = CpulabCommands(app.screen)
        found = {hit.text: hit.help async for hit in provider.discover()}
        assert found["Timeline"].endswith("· key l")
        assert found["Cores over the last minute"].endswith("· key m")
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = screen_text(app.screen)
        assert "Timeline of the result" in text and "timeline" in text
        assert "Cores now or the last minute" in text and "core_history" in text


# The core panel's last minute.


def test_the_history_keeps_the_last_minute_in_order_in_a_ring():
    history = CoreHistory((0, 1), sample_hz=4.0, seconds=1.0)  # 4 samples
    assert history.snapshot() is None
    for i in range(6):
        history.add((i * 10.0, 100.0 - i))
    samples = history.snapshot()
    assert samples is not None and samples.samples == 4
    assert [samples.percent(s, 0) for s in range(4)] == [20.0, 30.0, 40.0, 50.0]
    assert samples.percent(3, 1) == 95.0
    assert samples.t0 == pytest.approx(0.5) and samples.end == pytest.approx(history.end)
    history.add((1.0,))  # not a reading of these cores: left out
    assert history.count == 6


def frames(cores: int, count: int) -> list[CoreSample]:
    """Varied, repeatable readings: a wave moving across the cores."""
    cpus = tuple(range(cores))
    return [
        CoreSample(cpus, tuple(float((c * 7 + i * 3) % 101) for c in cpus), tree_cores=1.0)
        for i in range(count)
    ]


async def test_m_shows_each_cores_last_minute_and_m_again_the_bars():
    app = make_app(cores=2)
    async with app.run_test(size=(120, 40)) as pilot:
        await sampled(pilot)
        grid = app.query_one("#cores", CoreGrid)
        for sample in frames(2, 10):
            grid.sample = sample
        await pilot.press("m")
        await pilot.pause()
        assert grid.history and grid.border_title == "Cores, the last minute"
        lines = [grid.render_line(y).text for y in range(grid.size.height)]
        assert lines[-1].strip().startswith("-60s") and lines[-1].rstrip().endswith("now")
        assert lines[2].startswith("0 ") and lines[3].startswith("1 ")
        assert set(lines[2][2:].strip()) <= set(" ░▒▓█") and lines[2][-1] != " "
        await pilot.press("m")
        await pilot.pause()
        assert not grid.history and grid.border_title == "Cores"
        assert "%" in grid.render_line(2).text  # bars again


async def test_the_history_is_kept_but_not_drawn_while_the_panel_is_out_of_view(monkeypatch):
    # The app's own sampling at its slowest: on a loaded machine, samples of its own
    # between the test's would be drawn too and blur the count (its first is at mount).
    app = make_app(cores=4, sample_hz=MIN_HZ)
    async with app.run_test(size=(80, 24)) as pilot:  # the setup view: no core panel
        await sampled(pilot)
        await pilot.press("m")
        grid = app.query_one("#cores", CoreGrid)
        built = []
        original = CoreGrid._build
        monkeypatch.setattr(CoreGrid, "_build", lambda self: built.append(1) or original(self))
        count = grid._history.count
        for sample in frames(4, 20):
            grid.sample = sample
        await pilot.pause()
        assert grid._history.count >= count + 20  # every sample kept
        assert built == []  # none drawn
        await pilot.press("v")  # the results view: the cores on view, drawn once a sample
        await pilot.pause()
        built.clear()
        for sample in frames(4, 5):
            grid.sample = sample
            await pilot.pause()
        assert 1 <= len(built) <= 5 + 1  # one a sample, and the first frame on view


# Snapshots: fixed timelines, a fake sampler fed by the test, no clock.


async def open_timeline(pilot, result) -> None:
    await with_result(pilot, result)
    await pilot.press("l")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, TimelineScreen))
    await pilot.pause()


def test_timeline_80x24(snap_compare):
    async def run_before(pilot):
        await open_timeline(pilot, timed(CV_2, 2, 2))

    assert snap_compare(make_app(cores=2), terminal_size=(80, 24), run_before=run_before)


def test_timeline_zoomed_80x24(snap_compare):
    async def run_before(pilot):
        await open_timeline(pilot, timed(CV_2, 2, 2))
        await pilot.press("plus", "plus", "right")

    assert snap_compare(make_app(cores=2), terminal_size=(80, 24), run_before=run_before)


def test_timeline_160x50(snap_compare):
    async def run_before(pilot):
        await open_timeline(pilot, timed(CV_8, 16, 8))

    assert snap_compare(make_app(cores=2), terminal_size=(160, 50), run_before=run_before)


def test_core_history_64_cores_200x60(snap_compare):
    """64 cores' last minute at 4 Hz in rows of groups: every sample fed by the test, none
    taken by the app's timer."""
    app = make_app(cores=64)

    async def no_sample() -> None:
        pass

    app._take_sample = no_sample  # type: ignore[method-assign]

    async def run_before(pilot):
        grid = pilot.app.query_one("#cores", CoreGrid)
        for sample in frames(64, 240):
            grid.sample = sample
        await pilot.press("m")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(200, 60), run_before=run_before)
