"""The child process: runs one experiment point, or a sweep's points, and prints
JSON-line events.

    python -m cpulab.engine.runner [--wait] < spec.json

The spec (a RunSpec or SweepSpec as one JSON line) comes on standard input, whatever its
size. With --wait the runner first imports what runs need, then waits for it: a spare.

Events go to a private copy of the original stdout; file descriptor 1 is pointed at
stderr, so anything a library prints cannot corrupt the event stream.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import itertools
import json
import math
import os
import signal
import statistics
import sys
import sysconfig
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from numbers import Real
from time import perf_counter
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn

import psutil

from cpulab.api import Dataset, Setting
from cpulab.engine.cores import core_budget
from cpulab.engine.coretrace import CoreRecorder
from cpulab.engine.datafile import DataSpec
from cpulab.engine.doctor import conditions
from cpulab.engine.errors import UsageError
from cpulab.engine.events import PARTIAL, Error, Event, Phase, Progress, Result, Started
from cpulab.engine.load import LOAD_KEYS, cpu_seconds, noisy
from cpulab.engine.machine import library_versions, machine_facts, software_facts
from cpulab.engine.memory import memory_limit
from cpulab.engine.pinning import PinPlan, pin_tree, plan_pinning
from cpulab.engine.plugins import import_builder
from cpulab.engine.spec import SPARE_ARGUMENT, RunSpec, plan_from_dict
from cpulab.engine.taskstream import TaskRecorder
from cpulab.engine.timeline import TaskSpan, Timeline, Window, phases_from_events
from cpulab.engine.topology import machine_topology
from cpulab.engine.treemeter import (
    SAMPLE_INTERVAL,
    TreeMeter,
    kill_own_children,
    remove_joblib_leftovers,
    tie_to_parent,
)

if TYPE_CHECKING:
    from cpulab.api import Workload
    from cpulab.engine.tasks import Task

# The innermost frames of a failure's traceback that an error keeps where none is the
# user's (from the user's first frame on, it keeps them all).
TRACEBACK_FRAMES = 12
# Seconds between progress events: a 256-core fit finishes trees fast, and every event is
# encoded here, beside the measured call, and decoded and handled by the CLI or the app.
PROGRESS_INTERVAL = 0.2


class Emitter:
    """Writes events to the event stream; callable from any thread."""

    def __init__(self, stream):
        self._stream = stream
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        line = event.to_json() + "\n"
        with self._lock:
            self._stream.write(line)
            self._stream.flush()


def _claim_event_stream():
    event_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(event_fd, "w", buffering=1, encoding="utf-8")


def _die_with_parent(parent_pid: int, interval: float = 0.5) -> None:
    """If the supervisor vanishes (even by kill -9), take the whole tree down with it.

    A thread watches for the parent's exit and ends the tree, which needs the GIL. Until
    the runner starts any process (`PlanRunner.run` ties it otherwise then), the kernel
    kills it outright instead (Linux): a task's import can hold the GIL for ever, and with
    nothing started there is nothing to clean up. From then the kernel continues it as the
    parent ends, so that a run stopped with its supervisor (Ctrl-Z, then kill -9) does not
    stay stopped for ever: the thread then continues the rest of the tree, to end it."""
    if tie_to_parent() and os.getppid() != parent_pid:
        os._exit(1)  # the parent was gone before the tie was made

    def watch():
        while os.getppid() == parent_pid:
            time.sleep(interval)
        # Its workers and their trackers were stopped with it: to take SIGTERM, and to
        # clean up as they end, they must run.
        with contextlib.suppress(OSError):
            os.killpg(os.getpgid(0), signal.SIGCONT)
        kill_own_children()
        # No supervisor is left to clear a joblib folder created just as it was killed.
        remove_joblib_leftovers(os.getpid(), os.environ)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _exit_on_sigterm() -> None:
    def handler(signum, frame):
        kill_own_children()
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, handler)
    # A worker forked without exec (the multiprocessing backend) would inherit this handler,
    # which runs only between bytecodes: a SIGTERM from Pool.terminate() arriving just as
    # the worker blocks for its next job is then never handled, and the pool waits forever.
    os.register_at_fork(after_in_child=lambda: signal.signal(signal.SIGTERM, signal.SIG_DFL))


class ProgressHook:
    """Reports completed jobs of the outermost joblib call while the hook is active.

    Nested calls (a forest's trees inside a CV fold run in this process) are ignored,
    and so are top-level calls after `total` is reached (GridSearchCV's refit).
    """

    def __init__(self, emit: Callable[[Event], None]):
        self.emit = emit
        self.unit = ""
        self.total: int | None = None
        self.point: int | None = None
        self.active = False
        self._outer = None
        self._finished = 0
        self._last = -1
        self._last_time = 0.0

    def install(self) -> None:
        from joblib import Parallel

        hook = self
        original_call = Parallel.__call__
        original_progress = Parallel.print_progress

        def call(parallel, iterable):
            if hook._outer is not None or not hook.active:
                return original_call(parallel, iterable)
            hook._outer = parallel
            try:
                return original_call(parallel, iterable)
            finally:
                hook._finished += parallel.n_completed_tasks
                hook._outer = None

        def print_progress(parallel):
            if parallel is hook._outer:
                hook.report(hook._finished + parallel.n_completed_tasks)
            return original_progress(parallel)

        Parallel.__call__ = call
        Parallel.print_progress = print_progress

    def start(self, unit: str, total: int | None, point: int | None) -> None:
        self.unit, self.total, self.point = unit, total, point
        self._finished, self._last, self.active = 0, -1, True
        self.report(0)

    def stop(self) -> None:
        self.active = False

    def report(self, done: int) -> None:
        if self.total is not None:
            done = min(done, self.total)
        now = time.monotonic()
        edge = done in (0, self.total)
        if done != self._last and (edge or now - self._last_time >= PROGRESS_INTERVAL):
            self._last, self._last_time = done, now
            self.emit(
                Progress(
                    done=done, total=self.total, unit=self.unit, t=time.time(), point=self.point
                )
            )


@dataclass
class Point:
    """One configuration of the plan and what its measured calls have gathered so far."""

    index: int
    spec: RunSpec
    workload: Workload
    data_seconds: float
    warmup_times: list[float] = field(default_factory=list)
    fit_times: list[float] = field(default_factory=list)
    worker_times: list[float] = field(default_factory=list)
    cpu_time: float = 0.0
    peak_rss: int = 0
    memory: dict[str, Any] = field(default_factory=dict)  # as Result.memory: peaks so far
    wall: float = 0.0
    observer_cpu: float = 0.0  # the supervising CLI or app: watching is not noise
    machine_busy: dict[str, float] = field(default_factory=lambda: dict.fromkeys(LOAD_KEYS, 0.0))
    outcome: Any = None
    calls: list[Window] = field(default_factory=list)  # each measured call, time.time()
    tasks: list[TaskSpan] = field(default_factory=list)  # the joblib tasks of those calls
    pinning: PinPlan | None = None  # the CPUs it runs on, where --pin chose them

    def load(self) -> dict[str, float]:
        wall = self.wall or 1.0
        other = max(0.0, self.machine_busy["busy"] - self.cpu_time - self.observer_cpu)
        return {
            "other_cores": other / wall,
            "steal_cores": self.machine_busy["steal"] / wall,
            "iowait_cores": self.machine_busy["iowait"] / wall,
        }


class PlanRunner:
    """Runs every point of a plan in this process: imports once, then warm-up rounds and
    measured rounds, interleaved (A B C A B C ...) so that drift favours no point."""

    def __init__(self, specs: tuple[RunSpec, ...], emit: Callable[[Event], None]):
        self.specs, self.emit = specs, emit
        self.cpus = core_budget().affinity
        # Read before any pinning narrows this process's affinity: the machine record
        # says what the machine allows, not what one point was pinned to.
        machine_facts()
        # The governor, turbo, SMT, quota... as the run starts, stored with each result.
        self.conditions = conditions()
        self.pinned: tuple[int, ...] | None = None  # the CPUs the tree is pinned to now
        # The timeline: the cores' use at each reading of the tree, the phases, the tasks.
        self.cores = CoreRecorder(self.cpus, SAMPLE_INTERVAL)
        self.meter = TreeMeter(os.getpid(), on_sample=self.cores.record)
        self.marks: list[Phase] = []
        self.tasks: TaskRecorder | None = None
        self.observer = psutil.Process(os.getppid())
        self.hook = ProgressHook(emit)
        # A plan's points share their options: a sweep varies only the cores.
        options = specs[0].options
        self.execution = options.backend_spec.execution(options, emit)
        self.imports = 0.0
        self._datasets: dict[DataSpec, Dataset] = {}

    def _label(self, index: int | None) -> int | None:
        """The point index events carry: none for a single run, which has one point."""
        return None if len(self.specs) == 1 else index

    def phase(self, name: str, index: int | None = None, repeat: int | None = None) -> None:
        mark = Phase(name=name, t=time.time(), repeat=repeat, point=self._label(index))
        self.marks.append(mark)
        self.emit(mark)

    def run(self) -> None:
        self.meter.start()
        try:
            self.execution.limit_threads()
            self.phase("imports")
            t0 = perf_counter()
            builders = {spec.task.builder: import_builder(spec.task.builder) for spec in self.specs}
            self.imports = perf_counter() - t0
            self.hook.install()
            self.tasks = TaskRecorder()
            self.tasks.install()
            points = [
                self.build(i, spec, builders[spec.task.builder])
                for i, spec in enumerate(self.specs)
            ]
            # From here the runner starts workers, which a sudden death would orphan: the
            # parent-watch thread ends the tree instead (see _die_with_parent). A run the
            # supervisor stopped (Ctrl-Z) cannot watch: the parent's end continues it.
            tie_to_parent(signal.SIGCONT)
            repeats = max(spec.repeats for spec in self.specs)
            warmup = max(spec.warmup for spec in self.specs)
            for repeat in range(1, warmup + 1):
                for point in points:
                    if repeat <= point.spec.warmup:
                        point.warmup_times.append(self.measure(point, "warmup", repeat))
            for repeat in range(1, repeats + 1):
                for point in points:
                    if repeat <= point.spec.repeats:
                        point.fit_times.append(self.measure(point, "fit", repeat))
                        # Each measured run is reported as it ends, so a sweep cut short
                        # keeps every run it measured: a partial point until the last.
                        self.emit(self.finish(point, final=repeat == point.spec.repeats))
        finally:
            self.execution.close()
            self.meter.stop()
            if self.tasks is not None:
                self.tasks.close()

    def build(self, index: int, spec: RunSpec, build: Callable[..., Workload]) -> Point:
        self.phase("data", index)
        t0 = perf_counter()
        data = self.dataset(spec.options.data)
        if data is not None:  # the kind found in all its rows must suit the task
            spec.task.check_data_kind(data.kind, data.target_name, data.y.dtype.kind in "iuf")
        setting = Setting(
            train=spec.train,
            eval=spec.eval,
            scale=spec.scale,
            data=data,
            backend=spec.options.backend,
        )
        workload = build(setting)
        pinning = plan_pinning(
            spec.options.pin, machine_topology(), self.cpus, spec.train * spec.eval
        )
        return Point(index, spec, workload, data_seconds=perf_counter() - t0, pinning=pinning)

    def dataset(self, source: DataSpec | None) -> Dataset | None:
        """The user's data, loaded once however many points use it."""
        if source is None:
            return None
        if source not in self._datasets:
            from cpulab.engine.datafile import load_dataset

            self._datasets[source] = load_dataset(source)
        return self._datasets[source]

    def measure(self, point: Point, name: str, repeat: int) -> float:
        """Time one call of the point's workload; fit calls also feed its statistics."""
        jobs = point.workload.worker_jobs
        if len(self.specs) > 1:  # a sweep's points take turns: no timeline looks back
            self.cores.trim(time.time())
        self.pin(point)
        if self.execution.workers_due(jobs):
            self.phase("workers", point.index, repeat)
            t0 = perf_counter()
            self.execution.start_workers(jobs, point.workload.worker_modules)
            if name == "fit" or not point.worker_times:
                point.worker_times.append(perf_counter() - t0)
        self.phase(name, point.index, repeat)
        self.meter.reset_peaks()
        workload = point.workload
        with self.execution.measured(point.spec):
            self.hook.start(
                workload.progress_unit, workload.progress_total, self._label(point.index)
            )
            try:
                with self._recording(name == "fit", workload.progress_unit) as tasks:
                    # The CPU read right around the call, as its time is: set-up read
                    # outside it made a 0.16 s call of 2 cores look like 2.3 cores busy.
                    cpu_before = self.meter.cpu_snapshot()
                    busy_before = cpu_seconds(self.cpus)
                    observer_before = self._observer_seconds()
                    started = time.time()
                    t0 = perf_counter()
                    point.outcome = workload.call()
                    seconds = perf_counter() - t0
                    ended = time.time()
                    cpu_used = self.meter.cpu_since(cpu_before)
                    busy_after = cpu_seconds(self.cpus)
                    observer_used = self._observer_seconds() - observer_before
            finally:
                self.hook.stop()
        if name == "fit":
            point.calls.append((started, ended))
            point.tasks.extend(tasks)
            point.observer_cpu += observer_used
            point.cpu_time += cpu_used
            point.peak_rss = max(point.peak_rss, self.meter.peak_rss)
            self.meter.sample(memory=True)  # the call's end: whatever the last second missed
            point.memory = higher_memory(point.memory, self.meter.memory_peaks())
            point.wall += seconds
            for key in LOAD_KEYS:
                point.machine_busy[key] += busy_after[key] - busy_before[key]
        return seconds

    def pin(self, point: Point) -> None:
        """Put the runner and its workers on the point's CPUs, before its workers start
        and its call runs; loky's workers from an earlier point are pinned anew, not
        restarted, so their start-up is not paid again."""
        if point.pinning is None or point.pinning.cpus == self.pinned:
            return
        pin_tree(point.pinning.cpus)
        self.pinned = point.pinning.cpus

    def _recording(self, record: bool, unit: str) -> contextlib.AbstractContextManager:
        """Around a measured call: the joblib tasks it runs, on the Dask scheduler's
        stream where a cluster runs them."""
        if not record or self.tasks is None:
            return contextlib.nullcontext([])
        return self.tasks.recording(unit, getattr(self.execution, "client", None))

    def timeline(self, point: Point) -> dict[str, Any] | None:
        """The point's timeline as stored: its measured calls, their tasks, the run's
        phases and the cores over them. In a sweep, where points take turns, the last
        measured call and its phases only."""
        if not point.calls:
            return None
        phases = list(phases_from_events(self.marks, time.time()))
        calls = point.calls
        if len(self.specs) > 1:
            calls = calls[-1:]
            label, repeat = self._label(point.index), len(point.fit_times)
            phases = [
                p
                for p in phases
                if p.point == label
                and (p.name == "score" or (p.name in ("workers", "fit") and p.repeat == repeat))
            ]
        start = min([p.start for p in phases] + [calls[0][0]])
        tasks = [task for task in point.tasks if task.end >= calls[0][0]]
        end = max([p.end for p in phases] + [calls[-1][1]])
        return Timeline.build(self.cores.samples(start, end), phases, tasks, calls).to_dict()

    def _observer_seconds(self) -> float:
        try:
            times = self.observer.cpu_times()
        except psutil.Error:
            return 0.0
        return times.user + times.system

    def finish(self, point: Point, final: bool = True) -> Result:
        """The point's result: scored once its last run is measured, partial before."""
        score: float | None = None
        details: dict[str, Any] = {}
        if final:
            self.phase("score", point.index)
            score, details = checked_score(point.workload.score(point.outcome), point.spec)
            if score is not None and not math.isfinite(score):
                # A diverged model scores NaN or inf: no score, said plainly, valid JSON.
                details = {**details, "score_problem": f"the score came out as {score}"}
                score = None
        spec = point.spec
        load = point.load()
        flags = [] if final else [PARTIAL]
        # A cluster-size sweep's core count is the cluster's workers, not this machine's.
        if spec.train * spec.eval > spec.available and not spec.options.cluster_workers:
            flags.append("oversubscribed")
        if noisy(load, spec.available, point.wall):
            flags.append("noisy")
        workers = statistics.median(point.worker_times) if point.worker_times else 0.0
        return Result(
            task=spec.task.name,
            title=spec.task.title,
            scale=spec.scale,
            train=spec.train,
            eval=spec.eval,
            available=spec.available,
            fit_times=list(point.fit_times),
            warmup_times=point.warmup_times,
            setup={"imports": self.imports, "data": point.data_seconds, "workers": workers},
            cpu_time=point.cpu_time,
            peak_rss=point.peak_rss,
            memory={**point.memory, "limit": memory_limit()[0]} if point.memory else {},
            # The final result's only: partial ones would carry it again at each run.
            timeline=self.timeline(point) if final else None,
            score=score,
            metric=spec.task.metric,
            details={
                **details,
                **self.execution.facts(point.spec),
                **({"pinning": point.pinning.to_dict()} if point.pinning else {}),
            },
            flags=flags,
            machine=machine_facts(),
            software={
                **software_facts(),
                "threadpools": self.execution.runner_pools,  # read in the measured call
            },
            load=load,
            worker_times=point.worker_times,
            conditions=self.conditions,
            variant=spec.options.variant,
            options=spec.options.to_dict(),
            threads={
                "runner": self.execution.runner_pools,
                "workers": self.execution.worker_pools(point.workload.worker_jobs),
            },
        )


def higher_memory(kept: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The peaks of two measured calls, each figure the higher; workers matched largest
    first (a multiprocessing pool is new in every call)."""
    if not kept or not new:
        return kept or new
    workers = [
        max(pair)
        for pair in itertools.zip_longest(kept["worker_uss"], new["worker_uss"], fillvalue=0)
    ]
    return {
        **{key: max(kept[key], new[key]) for key in ("runner_uss", "helper_uss", "total_pss")},
        "worker_uss": workers,
    }


def task_named(task: Task) -> str:
    """A task as an error names it: "rf-train", "mine (task file mine.py)"."""
    return task.name if task.origin == "built-in" else f"{task.name} ({task.origin})"


def checked_score(returned: Any, spec: RunSpec) -> tuple[float | None, dict[str, Any]]:
    """A Workload's score as its `score` returned it, checked: UsageError naming the task
    where it is not a number (or None) and a dict of JSON values."""
    where = task_named(spec.task)
    pair = returned if isinstance(returned, tuple) and len(returned) == 2 else None
    if pair is None or not isinstance(pair[1], dict):
        raise UsageError(
            f"{where}: its Workload's score returned {type(returned).__name__} "
            f"{str(returned)[:60]!r}, not (a number or None, a dict of details)"
        )
    score, details = pair
    if score is not None and (isinstance(score, bool) or not isinstance(score, Real)):
        raise UsageError(
            f"{where}: its Workload's score is {type(score).__name__}, not a number or None"
        )
    try:
        json.dumps(details, allow_nan=True)
        return (None if score is None else float(score)), details
    except OverflowError:  # an int past any float
        raise UsageError(f"{where}: its Workload's score is too large for a float") from None
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{where}: its Workload's score details are not JSON: {exc}") from None


def error_event(exc: BaseException) -> Error:
    if isinstance(exc, UsageError):  # the user's input, not a bug: no traceback
        return Error(type="UsageError", message=str(exc))
    # Each exception of the chain from the first frame of the user's code on, whole; where
    # no frame is the user's, the innermost frames only.
    limit: int | None = -TRACEBACK_FRAMES
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        if (users := first_users_frame(link.__traceback__)) is not None:
            link.__traceback__, limit = users, None
        link = link.__cause__ or (None if link.__suppress_context__ else link.__context__)
    text = traceback.format_exception(type(exc), exc, exc.__traceback__, limit=limit)
    return Error(type=type(exc).__name__, message=str(exc), traceback="".join(text).rstrip())


def first_users_frame(frames: TracebackType | None) -> TracebackType | None:
    """The traceback from its first frame in the user's own code (a task file, say) on:
    the runner's frames that called it say nothing of the failure. None where no frame is
    the user's (a library's error, or cpulab's own)."""
    here = frames
    while here is not None and not users_file(here.tb_frame.f_code.co_filename):
        here = here.tb_next
    return here


@functools.cache
def users_file(filename: str) -> bool:
    """Whether code of `filename` is the user's: neither cpulab's nor an installed
    library's, nor the standard library's."""
    if filename.startswith("<"):  # <frozen ...>, <string>
        return False
    path = os.path.realpath(filename)
    return not any(os.path.commonpath([path, root]) == root for root in _not_users_roots())


@functools.cache
def _not_users_roots() -> frozenset[str]:
    libraries = ("stdlib", "platstdlib", "purelib", "platlib")
    roots = {os.path.realpath(sysconfig.get_path(name)) for name in libraries}
    roots.add(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))  # cpulab
    return frozenset(roots)


READY_MODULES = ("cpulab.engine.workloads",)  # scikit-learn and the built-in tasks


def _get_ready() -> None:
    """Import and look up what nearly every run needs, before the spec comes."""
    for name in READY_MODULES:
        # A failure here is reported by the run's own import of the same module.
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    machine_facts()
    library_versions()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    emit = Emitter(_claim_event_stream())
    _exit_on_sigterm()
    _die_with_parent(os.getppid())
    if argv == [SPARE_ARGUMENT]:
        _get_ready()
    spec = sys.stdin.readline()
    if not spec:  # the supervisor let its spare go, or went away itself
        return 0
    emit(Started(pid=os.getpid(), pgid=os.getpgid(0), t=time.time()))
    points = plan_from_dict(json.loads(spec))
    try:
        PlanRunner(points, emit).run()
    except SystemExit as exc:  # the task's own code asked the interpreter to exit
        emit(
            Error(
                type="SystemExit",
                message=f"{task_named(points[0].task)} called sys.exit({exc.code!r}) before "
                "its result",
                traceback=error_event(exc).traceback,
            )
        )
        return 1
    # Any other: the runner is in a session of its own, so even a KeyboardInterrupt is
    # the task's code raising it, not the terminal's Ctrl-C.
    except BaseException as exc:
        emit(error_event(exc))
        return 1
    return 0


def leave(status: int) -> NoReturn:
    """Exit; without the interpreter's teardown where nothing needs it.

    Tearing down every module takes about 0.16 s once scikit-learn is loaded, and the
    supervisor reports a run's final event only when the runner has exited. A runner with
    worker processes (and joblib's folders and trackers) leaves the usual way, so loky
    shuts them down cleanly; one without has nothing to clean up. Events are flushed as
    they are written."""
    if not psutil.Process().children():
        sys.stderr.flush()
        os._exit(status)
    sys.exit(status)


if __name__ == "__main__":
    leave(main())
