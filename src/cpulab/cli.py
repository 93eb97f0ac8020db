"""The command line: the TUI on a terminal, subcommands for headless use.

Exit status: 0 done, 1 the task failed, 2 bad input, 130 cancelled with Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from cpulab import __version__
from cpulab.engine.cores import CoreSplit
from cpulab.engine.errors import UsageError
from cpulab.engine.events import Error, Event, Phase, Progress, Result, Started
from cpulab.engine.spec import RunSpec
from cpulab.engine.tasks import CATALOGUE, KNOB_TITLES, SCALES, get_task

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports bad input in one line, without the usage block."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _count(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="cpulab",
        description="See how scikit-learn and joblib work scales across your CPU cores.",
        epilog="With no command, opens the app on a terminal, or runs a short demo otherwise.",
    )
    parser.add_argument("--version", action="version", version=f"cpulab {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    commands.add_parser("tasks", help="list the built-in tasks")

    run = commands.add_parser("run", help="run one task at one core split")
    run.add_argument("task", help="task name, see `cpulab tasks`")
    run.add_argument(
        "--train",
        default="1",
        metavar="N",
        help="training cores: the estimator's n_jobs (-1 all, -2 all but one; default 1)",
    )
    run.add_argument(
        "--eval",
        default="1",
        metavar="N",
        help="evaluation cores: cross-validation, search or models-at-once n_jobs (default 1)",
    )
    run.add_argument("--scale", choices=SCALES, default="small", help="workload size")
    run.add_argument("--repeats", type=_count, default=1, metavar="N", help="measured runs")
    run.add_argument("--warmup", type=_count, default=0, metavar="N", help="unmeasured runs first")
    run.add_argument("--json", action="store_true", help="print one JSON document, nothing else")
    return parser


def cmd_tasks(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    for task in CATALOGUE.values():
        knobs = " and ".join(KNOB_TITLES[k] for k in sorted(task.knobs, reverse=True))
        table.add_row(
            task.name,
            f"[b]{task.title}[/b] [dim]({knobs}; score: {task.metric})[/dim]\n{task.description}\n",
        )
    Console().print(table)
    return EXIT_OK


def spec_from_args(args: argparse.Namespace) -> RunSpec:
    task = get_task(args.task)
    split = CoreSplit.resolve(args.train, args.eval)
    return RunSpec.for_task(task, split, args.scale, repeats=args.repeats, warmup=args.warmup)


class LiveView:
    """Phase, progress and pid of a run on the terminal, drawn with rich."""

    def __init__(self, spec: RunSpec):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.spec = spec
        self.console = Console(stderr=True)
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self.bar = self.progress.add_task(f"{spec.task}: starting", total=None)

    def __enter__(self):
        self.progress.start()
        return self

    def __exit__(self, *exc):
        self.progress.stop()

    def __call__(self, event: Event) -> None:
        prefix = f"{self.spec.task} {self.spec.train}x{self.spec.eval}"
        if isinstance(event, Started):
            self.progress.update(self.bar, description=f"{prefix}: started, pid {event.pid}")
        elif isinstance(event, Phase):
            count = {"warmup": self.spec.warmup, "fit": self.spec.repeats}.get(event.name)
            step = f" {event.repeat}/{count}" if event.repeat and count else ""
            self.progress.update(
                self.bar, description=f"{prefix}: {event.title}{step}", completed=0, total=None
            )
        elif isinstance(event, Progress):
            self.progress.update(self.bar, completed=event.done, total=event.total)


def print_result(result: Result) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{result.title} ({result.scale})", title_justify="left")
    table.add_column("", style="bold")
    table.add_column("")
    times = ", ".join(f"{t:.3f}" for t in result.fit_times)
    table.add_row(
        "cores",
        f"{result.train} training x {result.eval} evaluation of {result.available} available",
    )
    table.add_row(
        "fit time", f"{result.fit_time:.3f} s (median of {len(result.fit_times)}: {times})"
    )
    setup = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in result.setup.items())
    table.add_row("setup", setup)
    table.add_row("CPU time", f"{result.cpu_time:.2f} s across the process tree")
    table.add_row("peak memory", f"{result.peak_rss / 2**20:.0f} MiB across the process tree")
    if result.score is not None:
        table.add_row(result.metric, f"{result.score:.4f}")
    if result.flags:
        table.add_row("flags", ", ".join(result.flags))
    Console().print(table)


def print_error(error: Error) -> None:
    print(f"cpulab: {error.one_line()}", file=sys.stderr)
    detail = error.traceback or error.stderr_tail
    if detail:
        print(detail, file=sys.stderr)


def cmd_run(args: argparse.Namespace) -> int:
    from cpulab.engine.supervisor import Supervisor

    spec = spec_from_args(args)
    supervisor = Supervisor()
    if args.json:
        final = supervisor.run_blocking(spec, lambda event: None)
        if isinstance(final, Result):
            print(json.dumps(final.summary(), indent=2))
        else:
            print(json.dumps({"error": {"event": final.kind, **vars(final)}}, indent=2))
    else:
        live = LiveView(spec)
        with live:
            final = supervisor.run_blocking(spec, live)
        if isinstance(final, Result):
            print_result(final)
        elif isinstance(final, Error):
            print_error(final)
    return EXIT_OK if isinstance(final, Result) else EXIT_FAILED


def cmd_demo() -> int:
    """What `cpulab` does off a terminal: a quick scaling check of the first task."""
    from cpulab.engine.cores import available_cores

    cores = available_cores()
    status = EXIT_OK
    for train in sorted({1, cores}):
        args = build_parser().parse_args(["run", "rf-train", "--train", str(train)])
        status = max(status, cmd_run(args))
    return status


def open_app() -> int:
    from cpulab.ui.app import run_app

    return run_app()


COMMANDS = {"tasks": cmd_tasks, "run": cmd_run}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command is None:
            if sys.stdin.isatty() and sys.stdout.isatty():
                return open_app()
            return cmd_demo()
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"cpulab: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("cpulab: cancelled", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
