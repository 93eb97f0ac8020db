"""`cpulab show RESULT_ID`: one stored result's timeline in the terminal.

The summary line, then the heat strip (cores x time) and the task Gantt (workers x time)
of the measured window, or of --from/--to seconds on the same axis, and the figures that
explain the scaling with the diagnosis. Drawn by `cpulab.engine.timeline_view`.
"""

from __future__ import annotations

import argparse
import shutil
from typing import TYPE_CHECKING

from cpulab.cli.parser import EXIT_OK
from cpulab.engine.compare import run_side
from cpulab.engine.errors import UsageError
from cpulab.engine.events import Result
from cpulab.engine.presentation import task_label
from cpulab.engine.store import ResultStore
from cpulab.engine.timeline import (
    Timeline,
    TimelineError,
    cores_given,
    figures,
    why_no_timeline,
)
from cpulab.engine.timeline_view import (
    LEAST_SECONDS,
    MOST_LABEL,
    figures_lines,
    gantt,
    heat_strip,
)

if TYPE_CHECKING:
    from rich.text import Text

# Rows of each view, its time axis included: 16 cores or workers a row each, more grouped.
MOST_ROWS = 18
NARROWEST = 40  # columns: labels and a plot that still says something
WIDEST = 1000  # a cell per column is drawn: no wider than any screen


def cmd_show(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.text import Text

    with ResultStore.open(args.db, readonly=True) as store:
        side = run_side(store, args.id)
    result = next(iter(side.points.values())).result
    if args.width is None:  # the terminal's, within what the views can draw
        width = min(max(shutil.get_terminal_size().columns, NARROWEST), WIDEST)
    elif not NARROWEST <= (width := args.width) <= WIDEST:
        raise UsageError(f"--width is {NARROWEST} to {WIDEST} columns, not {width}")
    timeline = None
    if result.timeline is not None:
        try:
            timeline = Timeline.from_dict(result.timeline)
        except TimelineError as error:
            raise UsageError(f"result #{args.id} has an unreadable timeline: {error}") from None
    shown = window(timeline, args.start, args.end) if timeline is not None else None
    console = Console(width=width, highlight=False)
    console.print(Text(summary_line(args.id, result)))
    if timeline is None or shown is None:
        console.print(f"No timeline: {why_no_timeline(result.partial)}.")
        return EXIT_OK
    for view in render(timeline, result, width, shown):
        if isinstance(view, Text) and "\n" in view.plain:  # a view: cut, never wrapped
            console.print(view, no_wrap=True, overflow="crop", crop=True)
        else:
            console.print(view)
    return EXIT_OK


def summary_line(point_id: int, result: Result) -> str:
    times = f"{result.fit_time:.3f} s median of {len(result.fit_times)}"
    return (
        f"result #{point_id}: {task_label(result)} ({result.scale}) at {result.train} x "
        f"{result.eval} of {result.available} cores, {times}"
    )


def window(
    timeline: Timeline, start: float | None, end: float | None
) -> tuple[float, float] | None:
    """The seconds shown, time.time(): --from/--to count from the axes' zero (the run's
    first phase); without them, the measured calls."""
    origin = timeline.origin()
    extent = timeline.extent()
    if origin is None or extent is None:
        return None  # nothing recorded at all
    calls = timeline.measured()
    a = origin + start if start is not None else (calls[0][0] if calls else extent[0])
    b = origin + end if end is not None else (calls[-1][1] if calls else extent[1])
    if start is not None and a >= extent[1]:
        raise UsageError(
            f"--from {start} is past the end of the run's timeline "
            f"({extent[1] - origin:.2f} s): nothing to show"
        )
    if b <= a:
        raise UsageError(
            f"--from {start if start is not None else 'the start'} is not before "
            f"--to {end if end is not None else 'the end'}: nothing to show"
        )
    if b - a < LEAST_SECONDS:
        raise UsageError(
            f"--from {start if start is not None else 'the start'} to "
            f"--to {end if end is not None else 'the end'} is under {LEAST_SECONDS * 1000:g} ms,"
            " the narrowest window a timeline draws"
        )
    return a, b


def render(
    timeline: Timeline, result: Result, width: int, shown: tuple[float, float]
) -> list[Text]:
    """The heat strip, the Gantt and the figures, `width` columns wide."""
    from rich.text import Text

    a, b = shown
    cores = len(timeline.cores.cores) if timeline.cores is not None else 0
    workers = timeline.workers()
    # One label width for both views, so their columns line up.
    labels = max([len("phase"), *(min(len(w), MOST_LABEL) for w, _ in workers)]) + 1
    return [
        Text("cores, from idle ' ' to busy '█'; run: this run's own share of them", style="dim"),
        heat_strip(timeline, width, min(MOST_ROWS, cores + 3), a, b, label_width=labels),
        Text("tasks: a row per worker, outer level first", style="dim"),
        gantt(timeline, width, min(MOST_ROWS, len(workers) + 1), a, b, label_width=labels),
        *(
            Text(line)
            for line in figures_lines(
                figures(timeline, cores_given(result)), runs=len(result.fit_times)
            )
        ),
    ]
