"""The results on view as rows: median time, its spread and run count, the speedup against
its baseline (see cpulab.ui.scaling), score, memory and flags.

Where the columns do not all fit, whole columns are left out, the least needed first, and
the border says which: a cell cut mid-word reads as another value.

Drawn line by line from the rows it keeps, as the core grid is, and styled as Textual's
DataTable with a row cursor. A DataTable renders every cell through Rich again whenever a
row is added, the table is resized or its focus changes: some 0.2 ms a cell, tens of
milliseconds a draw beside the run being measured. Here a row is rendered once per change
of its content, its columns or its styles, and moving the cursor redraws two lines."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size, Spacing
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from cpulab.engine.presentation import flag_text, task_label
from cpulab.ui.scaling import Entry, Speedup

COLUMNS = ("task", "train", "eval", "time", "± MAD", "n", "speedup", "score", "peak mem", "flags")
# Which columns stay as the room shrinks: the first always, the last only with room to spare.
PRIORITY = ("task", "train", "eval", "time", "speedup", "score", "± MAD", "n", "peak mem", "flags")
HEADER = tuple(Text(name) for name in COLUMNS)
PADDING = 1  # blank cells each side of a column


def speedup_cell(gain: Speedup | None) -> Text:
    """ "2.10x", marked "?" where the baseline is flagged or spread out: the number is
    only as good as the 1 x 1 time it divides."""
    if gain is None:
        return Text("-", justify="right")
    text = Text(f"{gain.value:.2f}x", justify="right")
    if gain.caveats:
        text.append("?", style="bold yellow")
    return text


def result_row(entry: Entry, gain: Speedup | None) -> tuple[Text, ...]:
    result, stats = entry.result, entry.stats
    task = (
        task_label(result) if result.scale == "small" else f"{task_label(result)} ({result.scale})"
    )
    score = "-" if result.score is None else f"{result.score:.3f} {result.metric}"
    return (
        Text(task),  # never markup: a variant is written in brackets
        Text(str(result.train), justify="right"),
        Text(str(result.eval), justify="right"),
        Text(f"{stats.median:.3f} s", justify="right"),
        Text(f"{stats.mad:.3f}", justify="right"),
        Text(str(stats.n), justify="right"),
        speedup_cell(gain),
        Text(score),
        Text(f"{result.peak_rss / 2**20:.0f} MiB", justify="right"),
        Text(flag_text(result.flags)),
    )


def fitting_columns(widths: Sequence[int], room: int, padding: int) -> tuple[int, ...]:
    """The indexes into COLUMNS to show, in table order: the longest run of PRIORITY whose
    columns, `widths` wide plus `padding` on each side, fit in `room`; the first always."""
    chosen: list[int] = []
    used = 0
    for name in PRIORITY:
        index = COLUMNS.index(name)
        used += widths[index] + 2 * padding
        if used > room and chosen:
            break
        chosen.append(index)
    return tuple(sorted(chosen))


class ResultsTable(ScrollView, can_focus=True):
    """Call `show(entries, speedups)` with what is on view; the newest row is selected.

    A header line, then a row per entry under a row cursor: up and down (and the page,
    home and end keys, or a click) move it, enter or a click on it posts RowSelected.
    It keeps the rows it was given and their columns' widths, so that a resize chooses
    the columns again."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Select", show=False),
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,ctrl+home", "first", "First row", show=False),
        Binding("end,ctrl+end", "last", "Last row", show=False),
        Binding("left", "scroll_left", "Scroll left", show=False),
        Binding("right", "scroll_right", "Scroll right", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "results-table--header",
        "results-table--cursor",
        "results-table--hover",
    }

    # DataTable's look (Textual 8), so that the table reads as one.
    DEFAULT_CSS = """
    ResultsTable {
        background: $surface;
        color: $foreground;
        height: auto;
        max-height: 100%;

        &:focus {
            background-tint: $foreground 5%;
            & > .results-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .results-table--header {
                background-tint: $foreground 5%;
            }
        }
        & > .results-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .results-table--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .results-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        & > .results-table--hover {
            background: $block-hover-background;
        }
    }
    """

    class RowSelected(Message):
        """Enter, or a click on the row under the cursor."""

        def __init__(self, row: int) -> None:
            super().__init__()
            self.row = row

    ALLOW_SELECT = False  # a click picks a row, as in DataTable; it selects no text

    cursor_row: reactive[int] = reactive(0, repaint=False, init=False)

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._rows: tuple[tuple[Text, ...], ...] = ()
        self._widths: tuple[int, ...] = tuple(map(cell_len, COLUMNS))
        self._columns: tuple[int, ...] = tuple(range(len(COLUMNS)))  # indexes into COLUMNS
        self._hover: int | None = None  # the row under the mouse, once it has moved
        # Whole lines, as wide as the table or the widget, by (row, cursor, hover); the
        # header is row -1. Emptied when the rows, the columns, the size or the styles change.
        self._lines: dict[tuple[int, bool, bool], Strip] = {}
        # The widget's own style, which Textual works out from every ancestor at each ask.
        self._style: Style | None = None
        self._fitted_width = 0  # the widget's width when the columns and lines were chosen

    # What is on view.

    @property
    def row_count(self) -> int:
        return len(self._rows)

    @property
    def columns(self) -> tuple[str, ...]:
        """The names of the columns on screen, in table order."""
        return tuple(COLUMNS[index] for index in self._columns)

    def cells(self, row: int) -> tuple[Text, ...]:
        """Row `row`'s cells in the columns on screen."""
        return tuple(self._rows[row][index] for index in self._columns)

    def show(
        self,
        entries: Sequence[Entry],
        speedups: Mapping[int, Speedup],
        cursor: int | None = None,
    ) -> None:
        """These rows; the cursor on row `cursor`, or on the newest (the last) for None."""
        # Rebuilt in full: a new 1 x 1 point changes the speedup of earlier rows.
        self._rows = tuple(result_row(entry, speedups.get(id(entry))) for entry in entries)
        self._widths = tuple(
            max([cell_len(name), *(row[index].cell_len for row in self._rows)])
            for index, name in enumerate(COLUMNS)
        )
        self._refit()
        self._move_cursor(len(self._rows) - 1 if cursor is None else cursor)

    # Layout.

    def on_mount(self) -> None:
        self._refit()

    def _refit(self) -> None:
        """Choose the columns for the width the widget has now. Out of view it has none,
        and they stay as they were: the first width it is drawn at then chooses them."""
        self._fitted_width = self.size.width
        self._arrange(self._fit())

    def on_resize(self, event: events.Resize) -> None:
        if self._fit_width():
            self.refresh()
        self.call_after_refresh(self._scroll_to_cursor)

    def render_lines(self, crop: Region) -> list[Strip]:
        # Textual draws a resized widget before it sends it the Resize: the columns and
        # the lines' blank ends are fitted to the width being drawn, here.
        self._fit_width()
        return super().render_lines(crop)

    def _fit_width(self) -> bool:
        """Choose the columns and draw the lines again if the width has moved since they
        were; whether it had."""
        width = self.size.width
        if width == self._fitted_width:
            return False
        self._fitted_width = width
        self._lines.clear()  # the blank after the last column is as wide as the widget
        columns = self._fit()
        if columns != self._columns:
            self._arrange(columns)
        return True

    def get_content_width(self, container: Size, viewport: Size) -> int:
        """Room for every column: what an automatic width gives the table."""
        padding = 2 * PADDING * len(COLUMNS)
        return sum(self._widths) + padding + self.styles.scrollbar_size_vertical

    def _fit(self) -> tuple[int, ...]:
        # Room is kept for a vertical scrollbar, which comes and goes with the rows and
        # would otherwise push the last column under a horizontal one.
        room = self.size.width - self.styles.scrollbar_size_vertical
        if room <= 0:  # not laid out, or not on view: as it was
            return self._columns
        return fitting_columns(self._widths, room, PADDING)

    def _arrange(self, columns: tuple[int, ...]) -> None:
        self._columns = columns
        self._lines.clear()
        width = sum(self._widths[index] + 2 * PADDING for index in columns)
        self.virtual_size = Size(width, len(self._rows) + 1)
        left_out = [name for index, name in enumerate(COLUMNS) if index not in columns]
        self.border_subtitle = f"left out: {', '.join(left_out)}" if left_out else None
        self.refresh()

    # The cursor.

    def validate_cursor_row(self, row: int) -> int:
        return max(0, min(row, len(self._rows) - 1))

    def watch_cursor_row(self, before: int, now: int) -> None:
        self._refresh_row(before)
        self._refresh_row(now)

    def _move_cursor(self, row: int) -> None:
        self.cursor_row = row
        # After the layout that a new row may need: the region to show is not there before.
        self.call_after_refresh(self._scroll_to_cursor)

    def _scroll_to_cursor(self) -> None:
        if self._rows:
            row = Region(self.scroll_offset.x, self.cursor_row + 1, self.size.width, 1)
            self.scroll_to_region(row, spacing=Spacing(1, 0, 0, 0), animate=False, force=True)

    def _keyboard(self, row: int) -> None:
        self._set_hover(None)  # the keys have the cursor now, as in DataTable
        self._move_cursor(row)

    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def action_cursor_up(self) -> None:
        self._keyboard(self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self._keyboard(self.cursor_row + 1)

    def action_page_up(self) -> None:
        self._turn_page(-self._page())

    def action_page_down(self) -> None:
        self._turn_page(self._page())

    def _turn_page(self, rows: int) -> None:
        # The view moves a page and the cursor with it, as in DataTable.
        self.scroll_relative(y=rows, animate=False, force=True)
        self._keyboard(self.cursor_row + rows)

    def action_first(self) -> None:
        self._keyboard(0)

    def action_last(self) -> None:
        self._keyboard(len(self._rows) - 1)

    def action_select_cursor(self) -> None:
        if self._rows:
            self.post_message(self.RowSelected(self.cursor_row))

    # The mouse.

    def _row_at(self, event: events.MouseEvent) -> int | None:
        """The row under the mouse; None on the header, the border or below the rows."""
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:
            return None
        row = offset.y - 1 + self.scroll_offset.y
        return row if row < len(self._rows) else None

    def on_mouse_move(self, event: events.MouseMove) -> None:
        self._set_hover(self._row_at(event))

    def on_leave(self, event: events.Leave) -> None:
        self._set_hover(None)

    def on_click(self, event: events.Click) -> None:
        row = self._row_at(event)
        if row is None:
            return
        event.stop()
        if row == self.cursor_row:
            self.post_message(self.RowSelected(row))
        else:
            self._move_cursor(row)

    def _set_hover(self, row: int | None) -> None:
        if row != self._hover:
            before, self._hover = self._hover, row
            self._refresh_row(before)
            self._refresh_row(row)

    # Drawing.

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._lines.clear()  # the theme or the focus changed: every style is looked up again
        self._style = None

    @property
    def _base_style(self) -> Style:
        if self._style is None:
            self._style = self.rich_style
        return self._style

    def _refresh_row(self, row: int | None) -> None:
        if row is not None and 0 <= row < len(self._rows):
            self.refresh_line(row + 1)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        row = -1 if y == 0 else y - 1 + self.scroll_offset.y
        if row >= len(self._rows):
            return Strip.blank(width, self._base_style)
        key = (row, row == self.cursor_row, row == self._hover)
        line = self._lines.get(key)
        if line is None:
            line = self._lines[key] = self._line(*key)
        x = self.scroll_offset.x
        return line.crop(x, x + width).adjust_cell_length(width, self._base_style)

    def _line(self, row: int, cursor: bool, hover: bool) -> Strip:
        """Row `row` (-1: the header) whole, styled as DataTable styles a row cursor's
        table: the row's style under the cells' own, the cursor's colour over them, and
        the blank after the last column in the row's style."""
        header = row < 0
        if header:
            base = self.get_component_rich_style("results-table--header")
        else:
            base = self._base_style
        over = Style()
        if hover:
            over += self.get_component_rich_style("results-table--hover")
        if cursor:
            over += self.get_component_rich_style("results-table--cursor")
        under = base + over
        # The cursor's foreground wins over a cell's colour; its background does not.
        after = Style.from_color(color=over.color)
        blank_style = under + after
        cells = HEADER if header else self._rows[row]
        segments: list[Segment] = []
        for index in self._columns:
            text, width = cells[index], self._widths[index]
            blank = width - text.cell_len
            left = blank if text.justify == "right" else 0
            segments.append(Segment(" " * (PADDING + left), blank_style))
            segments.extend(
                Segment(piece.text, under + piece.style + after)
                for piece in text.render(self.app.console)
            )
            segments.append(Segment(" " * (blank - left + PADDING), blank_style))
        drawn = sum(self._widths[index] + 2 * PADDING for index in self._columns)
        segments.append(Segment(" " * max(0, self.size.width - drawn), under))
        return Strip(segments).simplify()
