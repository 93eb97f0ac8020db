"""The results table on its own: its row cursor under the keys and the mouse, scrolling
under a fixed header, its styles, and that a frame redraws only the rows that changed."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Button

from cpulab.ui.messages import RunEvent
from cpulab.ui.scaling import Entry, speedups
from cpulab.ui.widgets import ResultsTable
from support.tui import THREE_RESULTS, make_app, make_result, wait_for


def entries(count: int) -> list[Entry]:
    return [Entry(make_result("rf-train", 1 + i % 4, 1, 1.0 + i / 100)) for i in range(count)]


class TableApp(App):
    """The table, 12 lines high (a header and 10 rows inside its border), and a button to
    take the focus away."""

    CSS = "ResultsTable { height: 12; border: round $accent; } Button { height: 3; }"

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count
        self.selected: list[int] = []

    def compose(self) -> ComposeResult:
        yield ResultsTable()
        yield Button("elsewhere")

    def on_mount(self) -> None:
        shown = entries(self.count)
        self.query_one(ResultsTable).show(shown, speedups(shown))
        self.query_one(ResultsTable).focus()

    def on_results_table_row_selected(self, message: ResultsTable.RowSelected) -> None:
        self.selected.append(message.row)


def drawn(table: ResultsTable) -> list[str]:
    return [table.render_line(y).text for y in range(table.size.height)]


def background(table: ResultsTable, y: int):
    return next(iter(table.render_line(y))).style.bgcolor


async def test_the_keys_move_the_cursor_within_the_rows_and_enter_selects_its_row():
    app = TableApp(25)
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(ResultsTable)
        assert table.cursor_row == 24  # the newest row
        await pilot.press("down")
        assert table.cursor_row == 24
        await pilot.press("home")
        assert table.cursor_row == 0
        await pilot.press("up", "down", "down")
        assert table.cursor_row == 2
        await pilot.press("pagedown")
        assert table.cursor_row == 11  # a page: the 9 rows in view
        await pilot.press("pageup", "pageup")
        assert table.cursor_row == 0
        await pilot.pause()
        await pilot.press("pagedown")  # the view turns a page, as in DataTable
        await pilot.pause()
        assert (table.cursor_row, table.scroll_offset.y) == (9, 9)
        await pilot.press("pagedown", "pageup")
        await pilot.pause()
        assert (table.cursor_row, table.scroll_offset.y) == (9, 7)
        await pilot.press("end", "up", "enter")
        await pilot.pause()
        assert app.selected == [23]


async def test_the_header_stays_while_the_rows_scroll_to_keep_the_cursor_in_view():
    app = TableApp(25)
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(ResultsTable)
        await pilot.pause()
        lines = drawn(table)
        assert lines[0].split()[:3] == ["task", "train", "eval"]
        assert "1.240 s" in lines[-1]  # the newest row, last on view
        await pilot.press("home")
        await pilot.pause()
        lines = drawn(table)
        assert lines[0].split()[:3] == ["task", "train", "eval"]
        assert "1.000 s" in lines[1] and "1.080 s" in lines[-1]


async def test_a_click_moves_the_cursor_and_a_click_on_its_row_selects_it():
    app = TableApp(5)
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(ResultsTable)
        await pilot.click(ResultsTable, offset=(5, 3))  # the border, the header, row 0, row 1
        assert table.cursor_row == 1 and app.selected == []
        await pilot.click(ResultsTable, offset=(5, 3))
        await pilot.pause()
        assert app.selected == [1]
        await pilot.click(ResultsTable, offset=(5, 1))  # the header: nothing
        await pilot.click(ResultsTable, offset=(5, 9))  # below the rows: nothing
        await pilot.pause()
        assert table.cursor_row == 1 and app.selected == [1]


async def test_the_cursor_row_and_the_row_under_the_mouse_are_drawn_apart():
    app = TableApp(5)
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(ResultsTable)
        await pilot.pause()
        plain = background(table, 1)
        focused_cursor = background(table, 5)
        assert focused_cursor not in (plain, None)
        assert background(table, 0) != plain  # the header

        await pilot.hover(ResultsTable, offset=(5, 3))  # row 1
        await pilot.pause()
        hovered = background(table, 2)
        assert hovered not in (plain, focused_cursor)
        await pilot.press("up")  # the keys take over from the mouse
        await pilot.pause()
        assert background(table, 2) == plain

        app.query_one(Button).focus()
        await pilot.pause()
        blurred_cursor = background(table, 4)
        assert blurred_cursor not in (plain, focused_cursor)


async def test_an_empty_table_draws_its_header_and_no_cursor():
    app = TableApp(0)
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(ResultsTable)
        await pilot.pause()
        assert table.row_count == 0 and drawn(table)[0].split()[0] == "task"
        header = table.get_component_rich_style("results-table--header")
        assert background(table, 0) == header.bgcolor
        await pilot.press("enter", "down")
        await pilot.pause()
        assert app.selected == []


async def test_a_frame_draws_again_only_the_rows_that_changed(monkeypatch):
    """The point of drawing line by line: a repaint of the table renders no row again, a
    cursor move renders the two rows it leaves and enters, and new rows render once."""
    rendered: list[int] = []
    render = ResultsTable._line

    def counted(self, row, cursor, hover):
        rendered.append(row)
        return render(self, row, cursor, hover)

    monkeypatch.setattr(ResultsTable, "_line", counted)
    app = TableApp(5)
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(ResultsTable)
        await pilot.pause()
        assert sorted(set(rendered)) == [-1, 0, 1, 2, 3, 4]

        table.refresh()  # once the focus has settled, which restyles the table
        await pilot.pause()
        rendered.clear()
        table.refresh()
        await pilot.pause()
        assert rendered == []

        await pilot.press("up")
        await pilot.pause()
        assert sorted(rendered) == [3, 4]

        rendered.clear()
        shown = entries(6)
        table.show(shown, speedups(shown))
        await pilot.pause()
        assert sorted(rendered) == [-1, 0, 1, 2, 3, 4, 5]


def on_screen_backgrounds(app: App, widget, y: int) -> set:
    """The background colours of line `y` of `widget`'s content, as the screen has it."""
    region = widget.content_region
    line = app.screen._compositor.render_strips()[region.y + y].crop(region.x, region.right)
    return {segment.style.bgcolor for segment in line if segment.style is not None}


async def test_a_table_that_widens_draws_its_header_and_cursor_across_the_new_width():
    """Textual draws a widget resized with the screen before the widget's Resize arrives:
    the lines drawn then are fitted to the new width, not those made for the old one."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        for result in THREE_RESULTS:
            app.post_message(RunEvent(result))
        await wait_for(pilot, lambda: len(app.results) == 3)
        await pilot.press("v")  # the table has the focus, its cursor row is coloured
        await pilot.pause()
        table = app.query_one(ResultsTable)
        header = on_screen_backgrounds(app, table, 0)
        cursor = on_screen_backgrounds(app, table, 3)
        assert len(header) == len(cursor) == 1 and header != cursor
        await pilot.resize_terminal(150, 40)
        await pilot.pause()
        assert table.content_region.width > 140
        assert on_screen_backgrounds(app, table, 0) == header
        assert on_screen_backgrounds(app, table, 3) == cursor


async def test_a_drag_across_the_table_selects_no_text():
    app = TableApp(5)
    async with app.run_test(size=(100, 20)) as pilot:
        await pilot.mouse_down(ResultsTable, offset=(5, 2))
        await pilot.hover(Button, offset=(2, 1))
        await pilot.mouse_up(Button, offset=(2, 1))
        await pilot.pause()
        assert not app.screen.selections
