"""The results on view as rows: median time, its spread and run count, the speedup against
its baseline (see cpulab.ui.scaling), score, memory and flags."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.text import Text
from textual.widgets import DataTable

from cpulab.engine.presentation import flag_text, task_label
from cpulab.ui.scaling import Entry, Speedup

COLUMNS = ("task", "train", "eval", "time", "± MAD", "n", "speedup", "score", "peak mem", "flags")


def speedup_cell(gain: Speedup | None) -> Text:
    """ "2.10x", marked "?" where the baseline is flagged or spread out: the number is
    only as good as the 1 x 1 time it divides."""
    if gain is None:
        return Text("-", justify="right")
    text = Text(f"{gain.value:.2f}x", justify="right")
    if gain.caveats:
        text.append("?", style="bold yellow")
    return text


def result_row(entry: Entry, gain: Speedup | None) -> tuple:
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


class ResultsTable(DataTable):
    """Call `show(entries, speedups)` with what is on view; the newest row is selected."""

    def on_mount(self) -> None:
        self.add_columns(*COLUMNS)

    def show(self, entries: Sequence[Entry], speedups: Mapping[int, Speedup]) -> None:
        # Rebuilt in full: a new 1 x 1 point changes the speedup of earlier rows.
        self.clear()
        for entry in entries:
            self.add_row(*result_row(entry, speedups.get(id(entry))))
        self.move_cursor(row=len(entries) - 1)
