"""The command line: the TUI on a terminal, subcommands for headless use.

Exit status: 0 done, 1 the task failed, 2 bad input, 130 cancelled with Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from cpulab import __version__
from cpulab.engine.cores import CoreSplit, available_cores
from cpulab.engine.datafile import KINDS, DataSpec, data_spec
from cpulab.engine.errors import UsageError
from cpulab.engine.events import Error, Event, Phase, Progress, Result, Started
from cpulab.engine.export import (
    EXPORTERS,
    FORMATS,
    SCALING_HEADER,
    best_summary,
    fit_summary,
    model_scores,
    point_notes,
    scaling_rows,
    task_label,
    write_export,
)
from cpulab.engine.plugins import load_catalogue
from cpulab.engine.spec import NO_DASK_SWEEPS, RunOptions, RunSpec
from cpulab.engine.stats import PointStats, ScalingReport, analyse_results
from cpulab.engine.store import ResultStore
from cpulab.engine.sweep import STRATEGIES, SweepPlan, default_strategy, parse_cores
from cpulab.engine.tasks import KNOB_TITLES, SCALES, Task

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
# Every character str.splitlines() breaks at, written out as its escape.
LINE_BREAKS = {ord(c): repr(c)[1:-1] for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"}


def one_line(message: str) -> str:
    """A report of bad input stays one line, whatever the text it quotes (an unknown
    option, a path, a theme name) holds."""
    return message.translate(LINE_BREAKS)


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports bad input in one line, without the usage block."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {one_line(message)}\n")


def _count(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None


def _theme_name(name: str) -> str:
    from cpulab.ui.themes import ThemeCatalog  # Textual loads only when a theme is named

    try:
        return ThemeCatalog.load().check(name)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _sample_hz(text: str) -> float:
    from cpulab.monitor.sampler import check_sample_hz

    try:
        return check_sample_hz(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected samples per second, not {text!r}") from None
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="cpulab",
        description="See how scikit-learn and joblib work scales across your CPU cores.",
        epilog="With no command, opens the app on a terminal, or runs a short demo otherwise.",
    )
    parser.add_argument("--version", action="version", version=f"cpulab {__version__}")
    parser.add_argument(
        "--theme", type=_theme_name, metavar="NAME", help="the app's theme (t cycles them)"
    )
    parser.add_argument(
        "--sample-hz",
        type=_sample_hz,
        metavar="HZ",
        help="how often the app samples the cores (default 4)",
    )
    _add_store_option(parser, default=None)
    _add_workload_options(parser, top_level=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    tasks = commands.add_parser("tasks", help="list the tasks: built-in, plug-ins, task files")
    _add_task_file_option(tasks, top_level=False)

    run = commands.add_parser("run", help="run one task at one core split")
    run.add_argument(
        "task", nargs="?", help="task name, see `cpulab tasks` (default: the --task-file's)"
    )
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
    _add_measuring_options(run, repeats=1, warmup=0)
    _add_workload_options(run)

    sweep = commands.add_parser("sweep", help="run a task over several core counts")
    sweep.add_argument(
        "task", nargs="?", help="task name, see `cpulab tasks` (default: the --task-file's)"
    )
    sweep.add_argument(
        "--cores",
        default="pow2",
        metavar="LIST",
        help="core counts: 1,2,4 or 1-8 or pow2 (powers of two up to the cores available; "
        "the default)",
    )
    sweep.add_argument(
        "--strategy",
        metavar="NAME",
        help="how each core count is split: "
        + "; ".join(f"{name}: {text}" for name, text in STRATEGIES.items())
        + " (default: eval where the task has that knob, else train)",
    )
    _add_measuring_options(sweep, repeats=3, warmup=1)
    _add_workload_options(sweep)

    history = commands.add_parser("history", help="list stored results")
    history.add_argument("--task", metavar="NAME", help="only this task")
    history.add_argument("--machine", metavar="ID|TEXT", help="machine id, host or CPU name")
    _add_store_option(history)

    export = commands.add_parser("export", help="write stored results as JSON, CSV or Markdown")
    export.add_argument("--format", choices=FORMATS, default="json", help="default json")
    export.add_argument("--out", type=Path, metavar="FILE", help="write here, not to stdout")
    export.add_argument("--task", metavar="NAME", help="only this task")
    export.add_argument("--machine", metavar="ID|TEXT", help="machine id, host or CPU name")
    _add_store_option(export)
    return parser


def _add_store_option(parser: argparse.ArgumentParser, default=argparse.SUPPRESS) -> None:
    # Only the top level sets a default: a subcommand's would overwrite `cpulab --db X`.
    parser.add_argument(
        "--db",
        type=Path,
        default=default,
        metavar="PATH",
        help="results store (default: $CPULAB_DB, else the user data directory)",
    )


def _add_workload_options(parser: argparse.ArgumentParser, top_level: bool = False) -> None:
    """Options for the app (top level), `run` and `sweep`: the user's data and tasks, the
    backend and threads. As with --db, only the top level sets defaults."""
    _add_data_options(parser, top_level)
    _add_task_file_option(parser, top_level)
    _add_execution_options(parser, top_level)


def _add_data_options(parser: argparse.ArgumentParser, top_level: bool) -> None:
    default = None if top_level else argparse.SUPPRESS
    parser.add_argument(
        "--data",
        metavar="FILE",
        default=default,
        help="your own CSV file (comma, tab or semicolon separated; header optional)",
    )
    parser.add_argument(
        "--target",
        metavar="COLUMN",
        default=default,
        help="the column to predict: a header name or a 0-based position (-1 the last)",
    )
    parser.add_argument(
        "--drop",
        metavar="COLUMN",
        action="append",
        default=[] if top_level else argparse.SUPPRESS,
        help="a column not to use as a feature (repeat it, or separate names with commas)",
    )
    parser.add_argument(
        "--kind",
        choices=KINDS,
        default=default,
        help="what the target holds (default: inferred from its values)",
    )


def _add_task_file_option(parser: argparse.ArgumentParser, top_level: bool) -> None:
    parser.add_argument(
        "--task-file",
        dest="task_files",
        type=Path,
        action="append",
        default=[] if top_level else argparse.SUPPRESS,
        metavar="FILE",
        help="a Python file defining cpulab_task(setting): your own task (repeatable)",
    )


def _add_execution_options(parser: argparse.ArgumentParser, top_level: bool) -> None:
    parser.add_argument(
        "--backend",
        metavar="NAME",
        default="loky" if top_level else argparse.SUPPRESS,
        help="joblib backend of the measured call: loky (the default, as scikit-learn "
        "chooses), threading or multiprocessing",
    )
    parser.add_argument(
        "--blas-threads",
        type=_count,
        metavar="N",
        default=None if top_level else argparse.SUPPRESS,
        help="BLAS/OpenMP threads in every process, workers included (default: the "
        "libraries' own choice)",
    )
    parser.add_argument(
        "--dask",
        metavar="ADDRESS",
        default=None if top_level else argparse.SUPPRESS,
        help="run on a Dask cluster: a scheduler's tcp://host:port, or local:N to start N "
        "one-thread worker processes (needs cpulab[dask])",
    )


def data_from_args(args: argparse.Namespace) -> DataSpec | None:
    """The user's --data, checked from its first rows; None where none was given."""
    if args.data is None:
        if args.target is not None or args.drop or args.kind is not None:
            raise UsageError("--target, --drop and --kind describe a data file: give --data too")
        return None
    if args.target is None:
        raise UsageError("--data needs --target COLUMN: the column to predict")
    drop = [name.strip() for text in args.drop for name in text.split(",") if name.strip()]
    return data_spec(args.data, args.target, drop, args.kind)


def execution_from_args(args: argparse.Namespace) -> dict:
    """RunOptions' backend, Dask and thread fields from --backend, --dask, --blas-threads."""
    if args.dask is not None and args.command == "sweep":
        raise UsageError(NO_DASK_SWEEPS)  # before a point's split is refused for Dask
    return {"backend": args.backend, "dask": args.dask, "blas_threads": args.blas_threads}


def run_options(args: argparse.Namespace) -> RunOptions:
    return RunOptions(data=data_from_args(args), **execution_from_args(args))


def _add_measuring_options(parser: argparse.ArgumentParser, repeats: int, warmup: int) -> None:
    parser.add_argument("--scale", choices=SCALES, default="small", help="workload size")
    parser.add_argument(
        "--repeats",
        type=_count,
        default=repeats,
        metavar="N",
        help=f"measured runs of each point (default {repeats})",
    )
    parser.add_argument(
        "--warmup",
        type=_count,
        default=warmup,
        metavar="N",
        help=f"unmeasured runs of each point first (default {warmup})",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document, nothing else")
    _add_store_option(parser)


def cmd_tasks(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    catalogue = load_catalogue(args.task_files)
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    for task in catalogue.tasks.values():
        notes = [
            " and ".join(KNOB_TITLES[k] for k in sorted(task.knobs, reverse=True)),
            f"score: {task.metric}",
        ]
        if task.data_kind:
            notes.append(f"takes --data ({task.data_kind})")
        if task.origin != "built-in":
            notes.append(task.origin)
        # Plug-ins write their own names and text: print them as written, never as markup.
        table.add_row(
            escape(task.name),
            f"[b]{escape(task.title)}[/b] [dim]({escape('; '.join(notes))})[/dim]\n"
            f"{escape(task.description)}\n",
        )
    Console().print(table)
    for problem in catalogue.problems:
        print(f"cpulab: warning: {one_line(problem)}", file=sys.stderr)
    return EXIT_OK


def task_from_args(args: argparse.Namespace) -> Task:
    """The task `run` or `sweep` names among the built-in, plug-in and task-file tasks."""
    return load_catalogue(args.task_files).get(args.task)


def spec_from_args(args: argparse.Namespace) -> RunSpec:
    task = task_from_args(args)
    split = CoreSplit.resolve(args.train, args.eval)
    return RunSpec.for_task(
        task, split, args.scale, repeats=args.repeats, warmup=args.warmup, options=run_options(args)
    )


def plan_from_args(args: argparse.Namespace) -> SweepPlan:
    task = task_from_args(args)
    available = available_cores()
    return SweepPlan(
        task=task,
        scale=args.scale,
        strategy=args.strategy or default_strategy(task),
        cores=parse_cores(args.cores, available),
        repeats=args.repeats,
        warmup=args.warmup,
        available=available,
        options=run_options(args),
    )


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
        self.bar = self.progress.add_task(f"{points[0].task}: starting", total=None)
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
        prefix = f"{point.task} {point.train} x {point.eval}"
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
        elif isinstance(event, Result) and self.overall is not None:
            self.console.print(
                f"  {event.train} x {event.eval}: {event.fit_time:.3f} s median of "
                f"{len(event.fit_times)}" + (f" [{', '.join(event.flags)}]" if event.flags else "")
            )


def print_result(result: Result) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    # Text, not markup: a plug-in's title or a data file's name may hold brackets.
    variant = f" [{result.variant}]" if result.variant else ""
    title = Text(f"{result.title} ({result.scale}){variant}")
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
        table.add_row("flags", ", ".join(result.flags))
    for warning in stats.warnings(result.flags):
        table.add_row("warning", warning)
    Console().print(table)


def print_report(report: ScalingReport, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left", caption="* the fastest split of its cores")
    for name in SCALING_HEADER:
        table.add_column(name, justify="left" if name == "split" else "right", no_wrap=True)
    for row in scaling_rows(report):
        table.add_row(*row)
    console = Console()
    console.print(table)
    console.print(fit_summary(report))
    if report.best is not None:
        lines = [
            f"{p.cores} {'core' if p.cores == 1 else 'cores'}: {p.train} x {p.eval}"
            for p in report.best_per_cores.values()
        ]
        console.print(f"{best_summary(report)} (best split per core count: {'; '.join(lines)})")
    for warning in point_notes(report) + report.warnings():
        console.print(f"[yellow]warning:[/yellow] {warning}")


def print_error(error: Error) -> None:
    print(f"cpulab: {error.one_line()}", file=sys.stderr)
    detail = error.traceback or error.stderr_tail
    if detail:
        print(detail, file=sys.stderr)


def error_record(event: Event) -> dict:
    """How --json reports a run that ended without a result."""
    return {"event": event.kind, **vars(event)}


def cmd_run(args: argparse.Namespace) -> int:
    spec = spec_from_args(args)
    with ResultStore.open(args.db) as store:
        final = _supervise(spec, [spec], args.json, store.add_point)
    _refuse_bad_input(final)
    if args.json:
        document = final.summary() if isinstance(final, Result) else {"error": error_record(final)}
        print(json.dumps(document, indent=2))
    elif isinstance(final, Result):
        print_result(final)
    elif isinstance(final, Error):
        print_error(final)
    return EXIT_OK if isinstance(final, Result) else EXIT_FAILED


def _refuse_bad_input(final: Event) -> None:
    """Input only the runner could check (the rows of a data file, a Dask scheduler) is
    bad input all the same: one line and exit status 2, like the checks made here."""
    if isinstance(final, Error) and final.bad_input:
        raise UsageError(final.message)


def _supervise(spec, points, quiet: bool, on_result) -> Event:
    """Run to the final event, storing each result as it arrives; live view unless quiet."""
    from cpulab.engine.supervisor import Supervisor

    def on_event(event: Event) -> None:
        if isinstance(event, Result):
            on_result(event)
        if view is not None:
            view(event)

    view = None if quiet else LiveView(points)
    if view is None:
        return Supervisor().run_blocking(spec, on_event)
    with view:
        return Supervisor().run_blocking(spec, on_event)


def cmd_sweep(args: argparse.Namespace) -> int:
    plan = plan_from_args(args)
    spec = plan.spec()
    results: list[Result] = []

    def keep(result: Result) -> None:
        store.add_point(result, sweep_id)
        results.append(result)

    with ResultStore.open(args.db) as store:
        sweep_id = plan.record_start(store)
        status = "cancelled"
        try:
            final = _supervise(spec, spec.points, args.json, keep)
            status = "done" if isinstance(final, Result) else "failed"
        finally:
            store.finish_sweep(sweep_id, status)
        if isinstance(final, Error) and final.bad_input:
            store.forget_sweep(sweep_id)
    _refuse_bad_input(final)
    report = analyse_results(results) if results else None
    if args.json:
        document = {
            "sweep": {"id": sweep_id, "task": plan.task.name, "scale": plan.scale,
                      "strategy": plan.strategy, "cores": list(plan.cores),
                      "repeats": plan.repeats, "warmup": plan.warmup, "status": status},
            "points": [r.summary() for r in results],
            "analysis": report.to_dict() if report else None,
        }  # fmt: skip
        if isinstance(final, Error):
            document["error"] = error_record(final)
        print(json.dumps(document, indent=2, allow_nan=False))
    else:
        if report is not None:
            title = f"{plan.task.title} ({plan.scale}), strategy {plan.strategy}, sweep {sweep_id}"
            print_report(report, title)
        if isinstance(final, Error):
            print_error(final)
    return EXIT_OK if status == "done" else EXIT_FAILED


def _machine_filter(text: str | None) -> int | str | None:
    return int(text) if text is not None and text.isdigit() else text


def cmd_history(args: argparse.Namespace) -> int:
    from rich.box import SIMPLE_HEAD
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    machine = _machine_filter(args.machine)
    with ResultStore.open(args.db) as store:
        labels = {m.id: m.label for m in store.machines()}
        sweeps = {s.id: s for s in store.sweeps()}
        points = store.points(task=args.task, machine=machine)
    console = Console()
    if not points:
        console.print("No stored results match." if args.task or args.machine else
                      "No results stored yet: try `cpulab run rf-train`.")  # fmt: skip
        return EXIT_OK
    table = Table(
        title=f"{len(points)} stored results",
        title_justify="left",
        box=SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for name in ("id", "when", "task", "split", "median s", "score", "sweep", "host"):
        table.add_column(name, justify="right" if name in ("id", "median s") else "left")
    table.add_column("flags", min_width=5, overflow="fold")
    for stored in points:
        r = stored.result
        table.add_row(
            str(stored.id),
            datetime.fromtimestamp(stored.created_at).strftime("%m-%d %H:%M"),
            Text(f"{task_label(r)} ({r.scale})"),  # not markup: a variant is in brackets
            f"{r.train} x {r.eval}",
            f"{r.fit_time:.3f}",
            "-" if r.score is None else f"{r.score:.4g}",
            "-" if stored.sweep_id is None else f"#{stored.sweep_id}",
            f"#{stored.machine_id}",
            " ".join(r.flags),
        )
    console.print(table)
    for sweep_id in sorted({p.sweep_id for p in points if p.sweep_id is not None}):
        sweep = sweeps[sweep_id]
        cores = ",".join(map(str, sweep.cores))
        console.print(
            f"sweep #{sweep.id}: {sweep.task} over {cores} cores, strategy {sweep.strategy}, "
            f"{sweep.repeats} repeats, {sweep.status}"
        )
    for machine_id in sorted({p.machine_id for p in points}):
        console.print(f"host #{machine_id}: {labels.get(machine_id, '?')}")
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    machine = _machine_filter(args.machine)
    with ResultStore.open(args.db) as store:
        text = EXPORTERS[args.format](store, task=args.task, machine=machine)
    write_export(text, args.out)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    """What `cpulab` does off a terminal: a quick scaling check of the first task, with
    the options given (data, backend, store ...) as the app would have used them."""
    demo = build_parser().parse_args(["sweep", "rf-train", "--repeats", "1", "--warmup", "0"])
    vars(demo).update((key, value) for key, value in vars(args).items() if key != "command")
    return cmd_sweep(demo)


def open_app(args: argparse.Namespace) -> int:
    from cpulab.ui.app import run_app

    catalogue = load_catalogue(args.task_files)
    options = run_options(args).check()  # refused here, not at every run in the app
    with ResultStore.open(args.db) as store:
        return run_app(
            theme=args.theme,
            sample_hz=args.sample_hz,
            store=store,
            catalogue=catalogue,
            options=options,
        )


COMMANDS = {
    "tasks": cmd_tasks,
    "run": cmd_run,
    "sweep": cmd_sweep,
    "history": cmd_history,
    "export": cmd_export,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command is None:
            if sys.stdin.isatty() and sys.stdout.isatty():
                return open_app(args)
            return cmd_demo(args)
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"cpulab: error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("cpulab: cancelled", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
