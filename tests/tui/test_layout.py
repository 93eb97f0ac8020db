"""The layout from 60x20 to 300x100: the run's status always whole on screen, the results
table's columns whole (all of them from 120 columns), and one view at a time where the
panels do not all fit, with v to switch."""

from __future__ import annotations

import pytest
from rich.cells import cell_len
from textual.app import App
from textual.errors import NoWidget
from textual.widget import Widget
from textual.widgets import Footer, OptionList

from cpulab.ui.messages import RunEvent
from cpulab.ui.widgets import ResultsTable, RunStatus, ScalingChart
from cpulab.ui.widgets.results_table import COLUMNS, PRIORITY, fitting_columns
from support.tui import THREE_RESULTS, ScriptedSupervisor, make_app, wait_for

SIZES = ((60, 20), (80, 24), (120, 40), (200, 60), (300, 100))
SMALL = SIZES[:2]  # one view at a time
LARGE = SIZES[2:]  # every panel, every column


def size_id(size: tuple[int, int]) -> str:
    return "x".join(map(str, size))


def shown(app: App, widget: Widget) -> bool:
    try:
        return app.screen.find_widget(widget).region.area > 0
    except NoWidget:
        return False


def assert_whole(app: App, widget: Widget) -> None:
    """On screen, uncut by its containers, clear of the footer and not under another."""
    geometry = app.screen.find_widget(widget)
    region = geometry.region
    assert region.area > 0, f"{widget} has no room"
    assert geometry.clip.contains_region(region), f"{widget} at {region} cut to {geometry.clip}"
    assert app.screen.region.contains_region(region)
    assert region.bottom <= app.query_one(Footer).region.y
    for y in range(region.y, region.bottom):
        assert app.screen.get_widget_at(region.x, y)[0] is widget


def assert_status_whole(app: App) -> None:
    status = app.query_one(RunStatus)
    assert_whole(app, status)
    lines = status.render_lines(status.content_region.reset_offset)
    assert len(lines) == status.content_size.height
    assert status.content_size.height >= str(status.render()).count("\n") + 1


def assert_columns_whole(table: ResultsTable) -> list[str]:
    """The columns on screen, each cell drawn whole under its heading, together within
    the table."""
    names = list(table.columns)
    drawn = [table.render_line(y).text for y in range(table.row_count + 1)]
    header = drawn[0]
    starts = [header.index(f" {name} ") + 1 for name in names]  # the padding before each
    for row in range(table.row_count):
        line = drawn[row + 1]
        for index, cell in enumerate(table.cells(row)):
            end = starts[index + 1] - 1 if index + 1 < len(names) else len(line)
            column = line[starts[index] : end]
            assert str(cell) in column, f"{names[index]} cut: {column!r} for {str(cell)!r}"
    assert table.virtual_size.width <= table.scrollable_content_region.width
    return names


async def show_three_results(pilot) -> None:
    app = pilot.app
    for result in THREE_RESULTS:
        app.post_message(RunEvent(result))
    await wait_for(pilot, lambda: app.query_one(ResultsTable).row_count == 3)
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=size_id)
async def test_the_status_is_whole_at_every_size_in_every_view(size):
    app = make_app(supervisor=ScriptedSupervisor())
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        assert_status_whole(app)
        await pilot.press("r")
        status = app.query_one(RunStatus)
        await wait_for(pilot, lambda: "12/30 folds" in str(status.render()))
        await pilot.pause()
        for _ in app.VIEWS:
            assert_status_whole(app)
            await pilot.press("v")
            await pilot.pause()
        await pilot.press("c")
        await wait_for(pilot, lambda: not app.running)
        await show_three_results(pilot)  # the last one's status: a flags line more
        assert status.has_class("-done")
        for _ in app.VIEWS:
            assert_status_whole(app)
            await pilot.press("v")
            await pilot.pause()


@pytest.mark.parametrize("size", LARGE, ids=size_id)
async def test_every_column_is_whole_from_120_columns(size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await show_three_results(pilot)
        table = app.query_one(ResultsTable)
        assert_whole(app, app.query_one(RunStatus))
        assert shown(app, table) and shown(app, app.query_one(ScalingChart))
        assert shown(app, app.query_one("#tasks"))  # every panel at once
        assert assert_columns_whole(table) == list(COLUMNS)
        assert table.border_subtitle is None
        flags = [str(table.cells(row)[-1]) for row in range(3)]
        assert flags[2] == "oversubscribed, noisy machine"


async def test_a_wide_table_is_as_wide_as_its_columns_and_the_chart_has_the_rest():
    app = make_app()
    async with app.run_test(size=(200, 60)) as pilot:
        await show_three_results(pilot)
        table, chart = app.query_one(ResultsTable), app.query_one(ScalingChart)
        assert table.content_size.width >= table.virtual_size.width
        assert table.content_size.width < table.virtual_size.width + 8
        assert table.region.y == chart.region.y  # side by side
        assert chart.region.width > 60


async def test_a_table_filled_while_out_of_view_leaves_out_columns_once_on_view():
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("v")  # the results view: the empty table fits every column
        await pilot.pause()
        table = app.query_one(ResultsTable)
        assert table.columns == COLUMNS and table.border_subtitle is None
        await pilot.press("v", "v")  # the chart, then the set-up: the table out of view
        await show_three_results(pilot)
        await pilot.press("v")  # the results again, at the same width
        await pilot.pause()
        assert len(table.columns) < len(COLUMNS)
        assert table.border_subtitle and table.border_subtitle.startswith("left out: ")
        assert_columns_whole(table)


async def test_hiding_a_row_leaves_the_cursor_where_it_was_on_the_next():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await show_three_results(pilot)
        table = app.query_one(ResultsTable)
        table.focus()
        await pilot.press("home")
        second = [str(cell) for cell in table.cells(1)[:4]]  # task, train, eval, time
        await pilot.press("h")
        await wait_for(pilot, lambda: table.row_count == 2)
        assert table.cursor_row == 0  # on the row that moved up, not on the newest
        assert [str(cell) for cell in table.cells(0)[:4]] == second


@pytest.mark.parametrize("size", SMALL, ids=size_id)
async def test_a_narrow_table_leaves_out_whole_columns_by_priority_and_says_which(size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await show_three_results(pilot)
        await pilot.press("v")
        await pilot.pause()
        table = app.query_one(ResultsTable)
        assert_whole(app, table)
        names = assert_columns_whole(table)
        kept = PRIORITY[: len(names)]
        assert sorted(names) == sorted(kept) and len(names) < len(COLUMNS)
        assert names == [name for name in COLUMNS if name in kept]  # in the table's order
        left_out = [name for name in COLUMNS if name not in kept]
        assert table.border_subtitle == f"left out: {', '.join(left_out)}"
        assert str(table.cells(1)[names.index("speedup")]) == "1.82x"

        table.cursor_row = 1
        await pilot.resize_terminal(120, 40)  # room again: every column, the same row
        await pilot.pause()
        assert assert_columns_whole(table) == list(COLUMNS)
        assert table.cursor_row == 1


async def test_at_60x20_a_user_chooses_a_task_runs_it_and_sees_results_and_chart():
    app = make_app(supervisor=ScriptedSupervisor())
    async with app.run_test(size=(60, 20)) as pilot:
        tasks = app.query_one("#tasks", OptionList)
        table, chart = app.query_one(ResultsTable), app.query_one(ScalingChart)
        assert shown(app, tasks) and app.focused is tasks
        assert not shown(app, table) and not shown(app, chart)
        assert_whole(app, app.query_one("#run"))

        await pilot.press("down")
        assert app.chosen_task.name == "cv-eval"
        await pilot.press("r")  # shows the results: the cores, the table and the status
        await wait_for(pilot, lambda: app._progress is not None)
        await show_three_results(pilot)
        await pilot.pause()
        assert not shown(app, tasks) and not shown(app, chart)
        assert_whole(app, table)
        assert app.focused is table
        assert shown(app, app.query_one("#cores"))

        await pilot.press("v")  # the chart, and the status
        await pilot.pause()
        assert not shown(app, table)
        assert_whole(app, chart)
        assert len(chart.results) == 3
        assert_status_whole(app)

        await pilot.press("v")  # back to the tasks
        await pilot.pause()
        assert shown(app, tasks) and app.focused is tasks
        assert not shown(app, chart)


async def test_where_every_panel_fits_v_moves_the_focus_between_them():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        tasks, table = app.query_one("#tasks"), app.query_one(ResultsTable)
        assert app.focused is tasks
        await pilot.press("v")
        assert app.focused is table
        await pilot.press("v")
        assert app.focused is None
        assert shown(app, tasks) and shown(app, table)
        await pilot.press("v")
        assert app.focused is tasks


def test_columns_are_chosen_by_priority_and_kept_in_table_order():
    widths = [cell_len(name) for name in COLUMNS]
    every = sum(widths) + 2 * len(COLUMNS)
    assert fitting_columns(widths, every, padding=1) == tuple(range(len(COLUMNS)))
    without_flags = fitting_columns(widths, every - 1, padding=1)
    assert [COLUMNS[i] for i in without_flags] == [c for c in COLUMNS if c != "flags"]
    first_five = sum(widths[COLUMNS.index(name)] + 2 for name in PRIORITY[:5])
    chosen = fitting_columns(widths, first_five, padding=1)
    assert [COLUMNS[i] for i in chosen] == ["task", "train", "eval", "time", "speedup"]
    assert fitting_columns(widths, 1, padding=1) == (0,)  # the task, whatever the room


async def test_at_80x24_a_warning_in_the_run_panel_squeezes_the_tasks_not_the_description():
    app = make_app(cores=2)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("down")  # cv-eval: both knobs
        app.query_one("#train").value = "2"
        app.query_one("#eval").value = "2"  # 4 of 2 cores: three lines of warning
        await pilot.pause()
        assert "oversubscribed" in str(app.query_one("#verdict").render())
        about, tasks = app.query_one("#about"), app.query_one("#tasks", OptionList)
        assert_whole(app, about)
        assert about.content_region.height >= 1  # the task's title, at least
        assert_whole(app, tasks)
        assert 2 <= tasks.content_region.height < tasks.option_count
