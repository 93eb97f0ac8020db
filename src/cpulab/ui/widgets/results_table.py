"""The results on view as rows: median time, its spread and run count, the speedup against
its baseline (see cpulab.ui.scaling), score, memory and flags.

Where the columns do not all fit, whole columns are left out, the least needed first, and
the border says which: a cell cut mid-word reads as another value."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.geometry import Size
from textual.widgets import DataTable

from cpulab.engine.presentation import flag_text, task_label
from cpulab.ui.scaling import Entry, Speedup

COLUMNS = ("task", "train", "eval", "time", "± MAD", "n", "speedup", "score", "peak mem", "flags")
# Which columns stay as the room shrinks: the first always, the last only with room to spare.
PRIORITY = ("task", "train", "eval", "time", "speedup", "score", "± MAD", "n", "peak mem", "flags")


def speedup_cell(gain: Speedup | None) -> Text:
    """ "2.10x", marked "?" where the baseline is flagged or spread out: the number is
    only as good as the 1 x 1 time it divides."""
    if gain is None:
        return Text("-", justify="right")
    text = Text(f"{gain.value:.2f}x", justify="right")
    if gain.caveats:
        text.append("?", style="bold yellow")
    return text


def result_row(entry: Entry, gain: Speedup | None) -> tuple[Text | str, ...]:
    result, stats = entry.result, entry.stats
    task = (
        task_label(result) if result.scale == "small" else f"{task_label(result)} ({result.scale})"
    )
    score = "-" if result.score is None else f"{result.score:.3f} {result.metric}"
    return (
        Text(task),  # not markup: a variant is written in brackets
        Text(str(result.train), justify="right"),
        Text(str(result.eval), justify="right"),
        Text(f"{stats.median:.3f} s", justify="right"),
        Text(f"{stats.mad:.3f}", justify="right"),
        Text(str(stats.n), justify="right"),
        speedup_cell(gain),
        score,
        Text(f"{result.peak_rss / 2**20:.0f} MiB", justify="right"),
        flag_text(result.flags),
    )


def cell_width(cell: Text | str) -> int:
    return cell.cell_len if isinstance(cell, Text) else cell_len(cell)


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


class ResultsTable(DataTable):
    """Call `show(entries, speedups)` with what is on view; the newest row is selected.

    It keeps the rows it was given and their columns' widths, so that a resize chooses
    the columns again."""

    _rows: tuple[tuple[Text | str, ...], ...] = ()
    _widths: tuple[int, ...] = tuple(cell_len(name) for name in COLUMNS)
    _columns: tuple[int, ...] = ()  # the indexes into COLUMNS on screen

    def show(self, entries: Sequence[Entry], speedups: Mapping[int, Speedup]) -> None:
        # Rebuilt in full: a new 1 x 1 point changes the speedup of earlier rows.
        self._rows = tuple(result_row(entry, speedups.get(id(entry))) for entry in entries)
        self._widths = tuple(
            max([cell_len(name), *(cell_width(row[index]) for row in self._rows)])
            for index, name in enumerate(COLUMNS)
        )
        self._fill(self._fit(), row=len(entries) - 1)

    def on_mount(self) -> None:
        self._fill(self._fit(), row=0)

    def on_resize(self, event: events.Resize) -> None:
        columns = self._fit()
        if columns != self._columns:
            self._fill(columns, row=self.cursor_row)

    def get_content_width(self, container: Size, viewport: Size) -> int:
        """Room for every column: what an automatic width gives the table."""
        padding = 2 * self.cell_padding * len(COLUMNS)
        return sum(self._widths) + padding + self.styles.scrollbar_size_vertical

    def _fit(self) -> tuple[int, ...]:
        # Room is kept for a vertical scrollbar, which comes and goes with the rows and
        # would otherwise push the last column under a horizontal one.
        room = self.size.width - self.styles.scrollbar_size_vertical
        if room <= 0:  # not laid out, or not on view: as it was, or every column
            return self._columns or tuple(range(len(COLUMNS)))
        return fitting_columns(self._widths, room, self.cell_padding)

    def _fill(self, columns: tuple[int, ...], row: int) -> None:
        # Widths given, not measured by the table: it measures when idle, and a frame
        # drawn before that would cut the cells at the widths of the header.
        self.clear(columns=True)
        self._columns = columns
        for index in columns:
            self.add_column(COLUMNS[index], width=self._widths[index])
        for cells in self._rows:
            self.add_row(*(cells[index] for index in columns))
        self.move_cursor(row=row)
        left_out = [name for index, name in enumerate(COLUMNS) if index not in columns]
        self.border_subtitle = f"left out: {', '.join(left_out)}" if left_out else None
