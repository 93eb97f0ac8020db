"""Every finished result as a row: median time, its spread and run count, and speedups
against the latest 1 x 1 point of each task."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable

from cpulab.engine.events import Result
from cpulab.engine.presentation import flag_text, task_label
from cpulab.engine.stats import PointStats
from cpulab.ui.scaling import speedup

COLUMNS = ("task", "train", "eval", "time", "± MAD", "n", "speedup", "score", "peak mem", "flags")


def result_row(result: Result, results: Sequence[Result]) -> tuple:
    gain = speedup(result, results)
    stats = PointStats.of(result.fit_times)
    task = (
        task_label(result) if result.scale == "small" else f"{task_label(result)} ({result.scale})"
    )
    score = "-" if result.score is None else f"{result.score:.3f} {result.metric}"
    flags = flag_text(result.flags)
    return (
        Text(task),  # not markup: a variant is written in brackets
        Text(str(result.train), justify="right"),
        Text(str(result.eval), justify="right"),
        Text(f"{stats.median:.3f} s", justify="right"),
        Text(f"{stats.mad:.3f}", justify="right"),
        Text(str(stats.n), justify="right"),
        Text("-" if gain is None else f"{gain:.2f}x", justify="right"),
        score,
        Text(f"{result.peak_rss / 2**20:.0f} MiB", justify="right"),
        flags,
    )


class ResultsTable(DataTable):
    """Call `show(results)` with every result so far; the newest row is selected."""

    def on_mount(self) -> None:
        self.add_columns(*COLUMNS)

    def show(self, results: Sequence[Result]) -> None:
        # Rebuilt in full: a new 1 x 1 point changes the speedup of earlier rows.
        self.clear()
        for result in results:
            self.add_row(*result_row(result, results))
        self.move_cursor(row=len(results) - 1)
