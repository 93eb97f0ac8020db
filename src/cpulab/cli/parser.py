"""What the command line accepts: the parser, and the requests its arguments make.

Bad input anywhere here is reported in one line with exit status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from cpulab import __version__
from cpulab.engine.backends import BACKENDS, resolve_backend
from cpulab.engine.cores import (
    CORES_PER_CORE,
    MAX_CORES,
    MAX_DIGITS,
    OVERSUBSCRIBE_FLAG,
    CoreSplit,
    available_cores,
    check_core_count,
    whole_number,
)
from cpulab.engine.datafile import KINDS, DataSpec, data_spec
from cpulab.engine.errors import UsageError
from cpulab.engine.export import FORMATS
from cpulab.engine.memory import ALLOW_FLAG, LIMIT_OPTION, check_memory, machine_limit, parse_size
from cpulab.engine.pinning import PIN_NONE, PIN_STRATEGIES
from cpulab.engine.plugins import load_catalogue
from cpulab.engine.spec import LIFTED_BY, RunOptions, RunSpec, cores_text
from cpulab.engine.store import ENV_VAR as STORE_ENV_VAR
from cpulab.engine.store import ResultStore, default_path
from cpulab.engine.sweep import (
    STRATEGIES,
    SweepPlan,
    cluster_size,
    default_strategy,
    parse_cores,
)
from cpulab.engine.tasks import SCALES

if TYPE_CHECKING:
    from cpulab.engine.advise import AdviceRequest

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
DEFAULT_SCALE = "small"
DEFAULT_BUDGET = 300.0  # seconds an advice search may take, unless --budget says
MAX_ROW_ID = 2**63 - 1  # SQLite's largest integer
# Every character str.splitlines() breaks at, written out as its escape.
LINE_BREAKS = {ord(c): repr(c)[1:-1] for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"}


def one_line(message: str) -> str:
    """A report of bad input stays one line, whatever the text it quotes (an unknown
    option, a path, a theme name) holds."""
    return message.translate(LINE_BREAKS)


# A repeatable option that the top level and a command both take adds up from both sides
# of the command: argparse lets the command's list replace the top level's, so the
# command's goes to a name of its own (dest + AFTER_COMMAND), joined on after parsing.
AFTER_COMMAND = "_after_command"


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports bad input in one line, without the usage block."""

    top_level = False  # the parser of `cpulab` itself: it joins the repeatable options

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {one_line(message)}\n")

    def _print_message(self, message, file=None):
        # argparse drops a write that fails. Help or a version that cannot be written
        # (a full disk, `> /dev/full`) fails as any other output does (cpulab.cli.main).
        if message and file is sys.stdout:
            file.write(message)
        else:
            super()._print_message(message, file)

    def parse_known_args(self, args=None, namespace=None):
        parsed, rest = super().parse_known_args(args, namespace)
        if self.top_level:
            for name, after in list(vars(parsed).items()):
                if name.endswith(AFTER_COMMAND):
                    before = getattr(parsed, name.removesuffix(AFTER_COMMAND), None) or []
                    setattr(parsed, name.removesuffix(AFTER_COMMAND), [*before, *after])
                    delattr(parsed, name)
        return parsed, rest


def _count(text: str) -> int:
    try:
        number = whole_number(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if number is None:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}")
    return number


def _page_size(text: str) -> int:
    number = _count(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"show at least 1 result, not {number}")
    return min(number, MAX_ROW_ID)  # more than SQLite can hold is all of them


def _id_number(text: str) -> int:
    number = _count(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"result ids start at 1, not {number}")
    return number


def _point_id(text: str) -> int:
    try:  # SQLite holds no larger integer than MAX_ROW_ID, nor any larger id
        return row_id(str(_id_number(text)), "stored result #{}", "result")
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _older_than(text: str) -> int:
    """--before ID: a result id; one past any there can be is older than them all."""
    return min(_id_number(text), MAX_ROW_ID)


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
    parser.top_level = True
    parser.add_argument("--version", action="version", version=f"cpulab {__version__}")
    parser.add_argument(
        "--theme", type=_theme_name, metavar="NAME", help="the app's theme (t picks one)"
    )
    parser.add_argument(
        "--sample-hz",
        type=_sample_hz,
        metavar="HZ",
        help="how often the app samples the cores (default 4, or the settings file's)",
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
    _add_memory_options(run)
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
    sweep.add_argument(
        "--workers",
        metavar="LIST",
        help="with --dask, sweep the cluster's size instead: each point uses that many of "
        "its workers (1,2,4, 1-8, or pow2 up to local:N's N); its core count is the workers",
    )
    _add_measuring_options(sweep, repeats=3, warmup=1)
    _add_memory_options(sweep)
    _add_workload_options(sweep)

    advise = commands.add_parser(
        "advise",
        help="find the fastest split of training x evaluation cores within a time budget",
        description="Measure 1 x 1 and a few core counts, fit a scaling model, then narrow "
        "the splits at the promising core counts by successive halving, within --budget. "
        "Every run is stored as a sweep, and the advice in the history.",
    )
    advise.add_argument(
        "task", nargs="?", help="task name, see `cpulab tasks` (default: the --task-file's)"
    )
    advise.add_argument(
        "--budget",
        type=_duration,
        default=DEFAULT_BUDGET,
        metavar="DURATION",
        help="the most time to spend measuring: 90s, 2m, 1h30m (default 5m)",
    )
    advise.add_argument(
        "--max-cores",
        type=_count,
        metavar="N",
        help="the most cores to use (default: the cores available)",
    )
    advise.add_argument(
        "--blas",
        nargs="?",
        const="auto",
        metavar="LIST",
        help="search BLAS/OpenMP threads per process too: 1,2,4 (bare: 1, 2, 4 and 8 up to "
        "--max-cores)",
    )
    _add_measuring_options(advise, repeats=3, warmup=1)
    _add_memory_options(advise, refuses=False)
    _add_workload_options(advise)

    history = commands.add_parser("history", help="list stored results, newest first")
    history.add_argument("--task", metavar="NAME", help="only this task")
    history.add_argument("--machine", metavar="ID|TEXT", help="machine id, host or CPU name")
    how_many = history.add_mutually_exclusive_group()
    how_many.add_argument(
        "--limit", type=_page_size, metavar="N", help="show the newest N (default 50)"
    )
    how_many.add_argument("--all", action="store_true", help="show every one")
    history.add_argument(
        "--before",
        type=_older_than,
        metavar="ID",
        help="only results older than result ID: the next page after one ending at ID",
    )
    history.add_argument(
        "--deleted", action="store_true", help="list the deleted results instead (restore ID)"
    )
    history.add_argument(
        "--advice", action="store_true", help="list what `cpulab advise` concluded instead"
    )
    _add_store_option(history)

    for name, verb in (("delete", "mark stored results deleted"), ("restore", "undo a delete")):
        edit = commands.add_parser(name, help=f"{verb}, by result id (see history)")
        edit.add_argument("ids", type=_point_id, nargs="+", metavar="ID")
        _add_store_option(edit)

    export = commands.add_parser(
        "export", help="write stored results as JSON, CSV, Markdown or HTML"
    )
    export.add_argument("--format", choices=FORMATS, default="json", help="default json")
    export.add_argument("--out", type=Path, metavar="FILE", help="write here, not to stdout")
    export.add_argument("--task", metavar="NAME", help="only this task")
    export.add_argument("--machine", metavar="ID|TEXT", help="machine id, host or CPU name")
    _add_store_option(export)

    commands.add_parser(
        "config",
        help="show the settings file and every setting in effect, with where it came from",
    )

    serve = commands.add_parser(
        "serve",
        help="the app in a browser (needs cpulab[serve]); app options go before `serve`",
    )
    serve.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1: this machine only")
    serve.add_argument("--port", type=_port, default=8000, metavar="N", help="default 8000")

    compare = commands.add_parser(
        "compare",
        help="is B slower than A? two sweeps, two stored results, or a task on two machines",
        description="Compare the times of two sweeps (12 or sweep:12), two stored results "
        "(run:101), or --task on --machines, split by split: medians, the shift of B with "
        "its 95 % interval, and a Mann-Whitney test ('~': not significant at 5 %).",
    )
    compare.add_argument(
        "sides", nargs="*", metavar="A B", help="sweep ids (12, sweep:12) or result ids (run:101)"
    )
    compare.add_argument("--task", metavar="NAME", help="with --machines: this task's results")
    compare.add_argument(
        "--machines", metavar="A,B", help="two machines (id, host or CPU name), A first"
    )
    compare.add_argument(
        "--scale",
        dest="task_scale",  # not `scale`, which the settings file fills in for run and sweep
        choices=SCALES,
        help="with --task: results of this workload size (default: the newest result's)",
    )
    compare.add_argument(
        "--fail-if-slower",
        type=_percent_limit,
        metavar="PCT",
        help="exit status 1 where B is significantly slower than A by more than PCT %%",
    )
    compare.add_argument("--json", action="store_true", help="print one JSON document")
    _add_store_option(compare)

    show = commands.add_parser(
        "show",
        help="one stored result's timeline: cores and workers over time, and why it scales so",
    )
    show.add_argument("id", type=_point_id, metavar="RESULT_ID", help="as `cpulab history` lists")
    show.add_argument(
        "--from", dest="start", type=_seconds, metavar="S", help="from S seconds into the run"
    )
    show.add_argument("--to", dest="end", type=_seconds, metavar="S", help="to S seconds")
    show.add_argument("--width", type=_count, metavar="N", help="columns (default: the terminal's)")
    _add_store_option(show)

    doctor = commands.add_parser(
        "doctor",
        help="what makes measurements unstable on this machine, with advice (read-only)",
        description="Check the CPU governor and turbo, SMT, isolated CPUs, the cgroup's CPU "
        "quota and memory limit, other processes' load and steal time (over half a second), "
        "the BLAS/OpenMP libraries' threads and free memory. Changes nothing.",
    )
    doctor.add_argument("--json", action="store_true", help="print one JSON document")
    return parser


def _non_negative(text: str, expected: str, bound: str) -> float:
    """A finite number of 0 or more: "expected EXPECTED" where it is no number, BOUND (what
    the range is) where it is out of it."""
    try:
        number = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, not {text!r}") from None
    if not 0 <= number < float("inf"):  # nan fails this too
        kind = "a number" if math.isnan(number) else "finite" if number > 0 else None
        said = f"{bound} and {kind}" if kind else bound
        raise argparse.ArgumentTypeError(f"{said}, not {text}")
    return number


def _seconds(text: str) -> float:
    return _non_negative(text, "seconds", "seconds into the run are 0 or more")


def _duration(text: str) -> float:
    # The search (and its statistics) loads for `advise` only.
    from cpulab.engine.advise import parse_duration

    try:
        return parse_duration(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _percent_limit(text: str) -> float:
    return _non_negative(text, "a percentage", "a slowdown limit is 0 % or more")


def _port(text: str) -> int:
    number = _count(text)
    if not 1 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 1 to 65535, not {number}")
    return number


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
        dest="drop" if top_level else f"drop{AFTER_COMMAND}",
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
        dest="task_files" if top_level else f"task_files{AFTER_COMMAND}",
        type=Path,
        action="append",
        default=[] if top_level else argparse.SUPPRESS,
        metavar="FILE",
        help="a Python file defining cpulab_task(setting): your own task (repeatable)",
    )


def _add_execution_options(parser: argparse.ArgumentParser, top_level: bool) -> None:
    local = "; ".join(f"{b.name}: {b.summary}" for b in BACKENDS.values() if not b.takes_cluster)
    parser.add_argument(
        "--backend",
        metavar="NAME",
        default=None if top_level else argparse.SUPPRESS,
        help=f"joblib backend of the measured call ({local})",
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
    parser.add_argument(
        "--pin",
        choices=PIN_STRATEGIES,
        default=None if top_level else argparse.SUPPRESS,
        help="the CPUs each point runs on, as many as it uses: physical (one thread of "
        "distinct physical cores first), siblings (both SMT threads of a core), numa "
        "(spread over NUMA nodes) or none (default: no pinning)",
    )
    parser.add_argument(
        OVERSUBSCRIBE_FLAG,
        action="store_true",
        default=False if top_level else argparse.SUPPRESS,
        help="run beyond the available cores: training x evaluation or sweep core counts "
        "above them, local Dask workers above one per core, and workers or threads above "
        f"{CORES_PER_CORE} per core (up to {MAX_CORES})",
    )


def _add_measuring_options(parser: argparse.ArgumentParser, repeats: int, warmup: int) -> None:
    # None: the settings file's scale, else DEFAULT_SCALE (see cpulab.cli.config).
    parser.add_argument(
        "--scale", choices=SCALES, default=None, help=f"workload size (default {DEFAULT_SCALE})"
    )
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


def _memory_size(text: str) -> int:
    try:
        return parse_size(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_memory_options(parser: argparse.ArgumentParser, refuses: bool = True) -> None:
    """--memory-limit, and for a run or sweep (`refuses`) --allow-memory: advice only
    keeps within the limit."""
    parser.add_argument(
        LIMIT_OPTION,
        dest="memory_limit",
        type=_memory_size,
        metavar="SIZE",
        help="the memory a run may use, where less than the machine's (512M, 2G): a run "
        "that the stored results predict to need more is refused"
        if refuses
        else "the memory a run may use, where less than the machine's (512M, 2G): no "
        "setting estimated to need more is measured beyond the first few, or advised",
    )
    if not refuses:
        return
    parser.add_argument(
        ALLOW_FLAG,
        dest="allow_memory",
        action="store_true",
        help="run even where the stored results predict more memory than a run may use",
    )


def check_memory_of(request: RunSpec | SweepPlan, args: argparse.Namespace) -> None:
    """Refuse a run or sweep that the stored results of its task, scale and variant on
    this machine predict to need more memory than a run may use, unless --allow-memory:
    read-only, before the store is opened to write."""
    with ResultStore.open(args.db, readonly=True) as store:
        check_memory(request, store, machine_limit(args.memory_limit), args.allow_memory)


def data_from_args(args: argparse.Namespace) -> DataSpec | None:
    """The user's --data, checked from its first rows; None where none was given."""
    if args.data is None:
        if args.target is not None or args.drop or args.kind is not None:
            raise UsageError("--target, --drop and --kind describe a data file: give --data too")
        return None
    if args.target is None:
        raise UsageError("--data needs --target COLUMN: the column to predict")
    return data_spec(args.data, args.target, args.drop, args.kind)


def run_options(args: argparse.Namespace) -> RunOptions:
    """The data, backend, threads and pinning of --data, --backend, --dask, --blas-threads
    and --pin; checked when a run or plan is made of them."""
    return RunOptions(
        data=data_from_args(args),
        backend=resolve_backend(args.backend, args.dask),
        cluster=args.dask,
        blas_threads=args.blas_threads,
        pin=args.pin or PIN_NONE,
        allow_oversubscribe=args.allow_oversubscribe,
    )


def spec_from_args(args: argparse.Namespace) -> RunSpec:
    """The checked run that `run` asks for; beyond the available cores only with
    --allow-oversubscribe."""
    catalogue = load_catalogue(args.task_files)
    task = catalogue.get(args.task)
    split = CoreSplit.resolve(args.train, args.eval)
    spec = RunSpec.for_task(
        task,
        split,
        args.scale,
        repeats=args.repeats,
        warmup=args.warmup,
        options=run_options(args),
        catalogue=catalogue.tasks,
    )
    spec.check_oversubscription()
    return spec


def plan_from_args(args: argparse.Namespace) -> SweepPlan:
    """The checked sweep that `sweep` asks for, before the store opens; core counts beyond
    the available cores only with --allow-oversubscribe."""
    catalogue = load_catalogue(args.task_files)
    task = catalogue.get(args.task)
    available = available_cores()
    options = run_options(args)
    if args.workers is None:
        cores = parse_cores(args.cores, available)
    else:
        cores, options = cluster_size(args.workers, options, available, args.strategy)
    plan = SweepPlan(
        task=task,
        scale=args.scale,
        strategy=default_strategy(task) if args.strategy is None else args.strategy,
        cores=cores,
        repeats=args.repeats,
        warmup=args.warmup,
        available=available,
        options=options,
        catalogue=catalogue.tasks,
    )
    plan.spec()  # every check its session makes, the cap's first
    plan.check_oversubscription()
    return plan


def advice_request_from_args(args: argparse.Namespace) -> tuple[AdviceRequest, SweepPlan]:
    """The checked search that `advise` asks for, and a plan of its whole grid: the task,
    scale, options and cores its batches share, checked as a sweep of them would be."""
    from cpulab.engine.advise import AdviceRequest, blas_choices, grid_cores

    if args.blas is not None and args.blas_threads is not None:
        raise UsageError("--blas searches the BLAS threads and --blas-threads fixes them: give one")
    if args.dask is not None:
        raise UsageError(
            "advise searches the splits of this machine's cores, not a cluster's: sweep its "
            "sizes with cpulab sweep TASK --dask ADDRESS --workers 1,2,4"
        )
    catalogue = load_catalogue(args.task_files)
    task = catalogue.get(args.task)
    available = available_cores()
    max_cores = available if args.max_cores is None else args.max_cores
    if max_cores < 1:
        raise UsageError(f"--max-cores is at least 1, not {max_cores}")
    # Beyond any machine first; then beyond this one, where every count above would be
    # oversubscribed.
    check_core_count(max_cores, available, f"--max-cores {max_cores}", allow_oversubscribe=True)
    if max_cores > available and not args.allow_oversubscribe:
        raise UsageError(
            f"--max-cores {max_cores} is more than the {cores_text(available)} available: "
            f"the search would oversubscribe them {LIFTED_BY}"
        )
    blas = blas_choices(args.blas, max_cores)
    plan = SweepPlan(
        task=task,
        scale=args.scale,
        strategy=default_strategy(task),
        cores=grid_cores(max_cores),
        repeats=args.repeats,
        warmup=args.warmup,
        available=available,
        options=run_options(args),
        catalogue=catalogue.tasks,
    )
    plan.spec()  # every check a batch's session makes
    for threads in blas:  # and its runs at each BLAS setting, before the search says a word
        dataclasses.replace(plan.options, blas_threads=threads).check()
    request = AdviceRequest(
        max_cores=max_cores,
        budget=args.budget,
        knobs=task.knobs,
        blas=blas,
        memory_limit=machine_limit(args.memory_limit).bytes,
        repeats=args.repeats,
    )
    return request, plan


def machine_filter(text: str | None) -> int | str | None:
    """--machine: a machine id where it is a number in ASCII digits, else text to find in
    the host or CPU name."""
    if text is None or not re.fullmatch(r"[0-9]+", text):
        return text
    return row_id(text, "machine {}", "machine")


def row_id(digits: str, named: str, kind: str) -> int:
    """The id of a store row that ASCII digits write. One past SQLite's largest integer is
    no row's: UsageError naming it as typed, leading zeros left out and cut short where
    long, in `named`'s words ("sweep #{}"), and the `kind` of id it is."""
    significant = digits.lstrip("0") or "0"
    if len(significant) <= len(str(MAX_ROW_ID)) and int(significant) <= MAX_ROW_ID:
        return int(significant)
    shown = significant if len(significant) <= MAX_DIGITS else f"{significant[:MAX_DIGITS]}..."
    raise UsageError(f"there is no {named.format(shown)}: {kind} ids go up to {MAX_ROW_ID}")


def check_task_filter(store: ResultStore, task: str | None) -> None:
    """--task of a command that reads the store: a name neither stored nor in the catalogue
    is a mistyped one, refused rather than answered with nothing. A task no longer
    installed still has its stored results, and a known one may have none yet."""
    if task is None or store.has_task(task) or task in load_catalogue().tasks:
        return
    stored = store.task_names()
    listed = f"results of {', '.join(stored)} are stored" if stored else "no results are stored"
    raise UsageError(f"unknown task {task!r}: {listed}; see `cpulab tasks`")


def store_path(path: Path | None, configured: Path | None = None) -> Path:
    """The results store a command opens: --db, else $CPULAB_DB, else the settings file's
    `configured` db, else the default. A ~user that names no user is bad input;
    Path.expanduser raises RuntimeError for it."""
    try:
        if path is not None:
            return path.expanduser()
        if configured is not None and not os.environ.get(STORE_ENV_VAR):
            return configured
        return default_path()
    except RuntimeError:
        named = str(path) if path is not None else os.environ[STORE_ENV_VAR]
        raise UsageError(
            f"cannot find the home directory of {named.split('/')[0]} in {named}"
        ) from None
