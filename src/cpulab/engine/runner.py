"""The child process: runs one experiment point and prints JSON-line events.

    python -m cpulab.engine.runner '<RunSpec as JSON>'

Events go to a private copy of the original stdout; file descriptor 1 is pointed at
stderr, so anything a library prints cannot corrupt the event stream.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from time import perf_counter

from cpulab.engine.events import Error, Event, Phase, Progress, Result, Started
from cpulab.engine.machine import library_facts, machine_facts
from cpulab.engine.spec import RunSpec
from cpulab.engine.treemeter import TreeMeter, kill_tree

TRACEBACK_LINES = 20
PROGRESS_INTERVAL = 0.05  # seconds between progress events; a 256-core fit finishes trees fast


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
    """If the supervisor vanishes (even by kill -9), take the whole tree down with it."""

    def watch():
        while os.getppid() == parent_pid:
            time.sleep(interval)
        kill_tree(os.getpid(), include_root=False, grace=0.5)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _exit_on_sigterm() -> None:
    def handler(signum, frame):
        kill_tree(os.getpid(), include_root=False, grace=0.5)
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


class ProgressHook:
    """Reports completed jobs of the outermost joblib call while the hook is active.

    Nested calls (a forest's trees inside a CV fold run in this process) are ignored,
    and so are top-level calls after `total` is reached (GridSearchCV's refit).
    """

    def __init__(self, emit: Callable[[Event], None], unit: str, total: int | None):
        self.emit, self.unit, self.total = emit, unit, total
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

    def start(self) -> None:
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
            self.emit(Progress(done=done, total=self.total, unit=self.unit, t=time.time()))


def _warm_worker(modules: tuple[str, ...]) -> int:
    for name in modules:
        importlib.import_module(name)
    time.sleep(0.05)  # hold this job briefly so the next one lands on another worker
    return os.getpid()


def start_workers(n_jobs: int, modules: tuple[str, ...]) -> set[int]:
    """Start joblib's worker pool as the measured call will use it, and import into it.

    loky keeps the pool for the next call with the same n_jobs, so the measured call
    finds its workers ready; the cost of starting them is reported as its own phase.
    """
    from joblib import Parallel, delayed

    pids: set[int] = set()
    for _ in range(3):
        pids |= set(Parallel(n_jobs=n_jobs)(delayed(_warm_worker)(modules) for _ in range(n_jobs)))
        if len(pids) >= n_jobs:
            break
    return pids


def run(spec: RunSpec, emit: Callable[[Event], None]) -> Result:
    meter = TreeMeter(os.getpid())
    meter.start()
    setup: dict[str, float] = {}

    def phase(name: str, repeat: int | None = None) -> None:
        emit(Phase(name=name, t=time.time(), repeat=repeat))

    phase("imports")
    t0 = perf_counter()
    module_name, _, func_name = spec.builder.partition(":")
    build = getattr(importlib.import_module(module_name), func_name)
    setup["imports"] = perf_counter() - t0

    phase("data")
    t0 = perf_counter()
    workload = build(spec.train, spec.eval, spec.scale)
    setup["data"] = perf_counter() - t0

    setup["workers"] = 0.0
    if workload.worker_jobs > 1:
        phase("workers")
        t0 = perf_counter()
        start_workers(workload.worker_jobs, workload.worker_modules)
        setup["workers"] = perf_counter() - t0

    hook = ProgressHook(emit, workload.progress_unit, workload.progress_total)
    hook.install()

    def timed_call(name: str, repeat: int) -> tuple[float, object]:
        phase(name, repeat)
        hook.start()
        try:
            t0 = perf_counter()
            outcome = workload.call()
            return perf_counter() - t0, outcome
        finally:
            hook.stop()

    warmup_times = [timed_call("warmup", i + 1)[0] for i in range(spec.warmup)]
    fit_times = []
    cpu_before = meter.cpu_snapshot()
    for i in range(spec.repeats):
        seconds, outcome = timed_call("fit", i + 1)
        fit_times.append(seconds)
    cpu_time = meter.cpu_since(cpu_before)

    phase("score")
    score, details = workload.score(outcome)
    meter.stop()

    flags = ["oversubscribed"] if spec.train * spec.eval > spec.available else []
    return Result(
        task=spec.task,
        title=spec.title,
        scale=spec.scale,
        train=spec.train,
        eval=spec.eval,
        available=spec.available,
        fit_times=fit_times,
        warmup_times=warmup_times,
        setup=setup,
        cpu_time=cpu_time,
        peak_rss=meter.peak_rss,
        score=score,
        metric=spec.metric,
        details=details,
        flags=flags,
        machine={**machine_facts(), **library_facts()},
    )


def error_event(exc: BaseException) -> Error:
    tail = traceback.format_exception(type(exc), exc, exc.__traceback__)
    lines = "".join(tail).rstrip().splitlines()[-TRACEBACK_LINES:]
    return Error(type=type(exc).__name__, message=str(exc), traceback="\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    emit = Emitter(_claim_event_stream())
    _exit_on_sigterm()
    _die_with_parent(os.getppid())
    emit(Started(pid=os.getpid(), pgid=os.getpgid(0), t=time.time()))
    try:
        spec = RunSpec.from_dict(json.loads(argv[0]))
        emit(run(spec, emit))
    except Exception as exc:
        emit(error_event(exc))
        return 1
    finally:
        # Idle joblib workers would otherwise linger until loky's own timeout.
        kill_tree(os.getpid(), include_root=False, grace=0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
