"""The command line's terminal output: the live view of a run or sweep, and the tables
and lines that report how it went. rich draws them; the words come from the engine's
`presentation` module, as in the app and the exports.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from cpulab.cli.parser import one_line
from cpulab.engine.events import Error, Event, Phase, Progress, Result, Started
from cpulab.engine.presentation import (
    SCALING_HEADER,
    best_splits_line,
    fit_summary,
    flag_text,
    model_scores,
    point_notes,
    printable,
    scaling_rows,
)
from cpulab.engine.stats import PointStats, ScalingReport
from cpulab.engine.store import ResultStore

if TYPE_CHECKING:  # the runner's session loads for the commands that run one
    from cpulab.engine.session import Outcome, Session
    from cpulab.engine.spec import RunSpec


class LiveView:
    """Phase and progress of a run or sweep on the terminal, drawn with rich on stderr."""

    def __init__(self, points: Sequence[RunSpec]):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.points = points
        self.console = Console(stderr=True)
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
            # Off a terminal nothing is drawn live, yet rich would still leave a blank line
            # on stderr, ahead of the line that reports an error.
            disable=not self.console.is_terminal,
        )
        self.bar = self.progress.add_task(f"{points[0].task.name}: starting", total=None)
        # A sweep also shows how many of its measured calls have started.
        calls = sum(p.warmup + p.repeats for p in points)
        self.overall = self.progress.add_task("sweep", total=calls) if len(points) > 1 else None

    def __enter__(self):
        self.progress.start()
        return self

    def __exit__(self, *exc):
        self.progress.stop()

    def __call__(self, event: Event) -> None:
        point = self.points[getattr(event, "point", None) or 0]
        prefix = point.label
        if isinstance(event, Started):
            self.progress.update(self.bar, description=f"{prefix}: started, pid {event.pid}")
        elif isinstance(event, Phase):
            count = {"warmup": point.warmup, "fit": point.repeats}.get(event.name)
            step = f" {event.repeat}/{count}" if event.repeat and count else ""
            self.progress.update(
                self.bar, description=f"{prefix}: {event.title}{step}", completed=0, total=None
            )
            if self.overall is not None and count:
                self.progress.advance(self.overall)
        elif isinstance(event, Progress):
            self.progress.update(self.bar, completed=event.done, total=event.total)
        elif isinstance(event, Result) and not event.partial and self.overall is not None:
            self.console.print(
                f"  {event.train} x {event.eval}: {event.fit_time:.3f} s median of "
                f"{len(event.fit_times)}" + (f" [{flag_text(event.flags)}]" if event.flags else "")
            )


def print_result(result: Result) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    # Text, not markup: a plug-in's title or a data file's name may hold brackets.
    variant = f" [{result.variant}]" if result.variant else ""
    title = Text(printable(f"{result.title} ({result.scale}){variant}"))
    table = Table(title=title, title_justify="left")
    table.add_column("", style="bold")
    table.add_column("")
    stats = PointStats.of(result.fit_times)
    times = ", ".join(f"{t:.3f}" for t in result.fit_times)
    table.add_row(
        "cores",
        f"{result.train} training x {result.eval} evaluation of {result.available} available",
    )
    table.add_row(
        "fit time",
        f"{stats.median:.3f} s median ± {stats.mad:.3f} MAD of {stats.n}: {times}",
    )
    setup = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in result.setup.items())
    table.add_row("setup", setup)
    table.add_row("CPU time", f"{result.cpu_time:.2f} s across the process tree")
    table.add_row("peak memory", f"{result.peak_rss / 2**20:.0f} MiB across the process tree")
    if result.score is not None:
        table.add_row(result.metric, f"{result.score:.4f}")
    if per_model := model_scores(result):
        table.add_row("per model", per_model)
    if result.flags:
        table.add_row("flags", flag_text(result.flags))
    for warning in stats.warnings(result.flags):
        table.add_row("warning", warning)
    Console().print(table)


def print_report(report: ScalingReport, title: str, model: Sequence[str] = ()) -> None:
    """The sweep's table, fit and best splits, then `model`'s lines (see model_lines)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=title, title_justify="left", caption="* the fastest split of its cores")
    for name in SCALING_HEADER:
        table.add_column(name, justify="left" if name == "split" else "right", no_wrap=True)
    for row in scaling_rows(report):
        table.add_row(*row)
    console = Console()
    console.print(table)
    console.print(fit_summary(report))
    if (best := best_splits_line(report)) is not None:
        console.print(best)
    for line in model:
        if line.startswith("warning: "):
            console.print(f"[yellow]warning:[/yellow] {escape(line.removeprefix('warning: '))}")
        else:
            console.print(escape(line))
    for warning in point_notes(report) + report.warnings():
        console.print(f"[yellow]warning:[/yellow] {warning}")


def print_error(error: Error) -> None:
    print(f"cpulab: {error.one_line()}", file=sys.stderr)
    if error.traceback and error.stderr_tail:  # what the task printed, then where it failed
        print(f"The run's own output, its last lines:\n{error.stderr_tail}", file=sys.stderr)
    detail = error.traceback or error.stderr_tail
    if detail:
        print(detail, file=sys.stderr)


def run_in_terminal(session: Session, quiet: bool) -> Outcome:
    """Run a session in the foreground, with the live view on stderr unless quiet."""
    if quiet:
        return session.run_blocking()
    with LiveView(session.points) as view:
        return session.listen(view).run_blocking()


def report_stop(outcome: Outcome) -> None:
    """Say on stderr why a session ended early: its error, the user's cancel, a signal."""
    try:
        if outcome.error is not None:
            print_error(outcome.error)
        elif outcome.status == "interrupted":
            print(f"cpulab: interrupted by {outcome.signal_name}", file=sys.stderr)
        elif outcome.status == "cancelled":
            print("cpulab: cancelled", file=sys.stderr)
        for point in outcome.partial:
            runs = len(point.fit_times)
            print(
                f"cpulab: kept {point.train} x {point.eval} as a partial point: {runs} measured "
                f"run{'s' if runs != 1 else ''}, median {point.fit_time:.3f} s",
                file=sys.stderr,
            )
    except OSError:  # the terminal went away with the signal that stopped it (SIGHUP)
        pass


def warn_unreadable(store: ResultStore) -> None:
    """Name on stderr each stored row that was skipped because it could not be read."""
    for problem in store.unreadable.values():
        print(f"cpulab: warning: {store.path}: {one_line(problem)}, skipped", file=sys.stderr)
