"""Which worker ran which joblib task of the measured call, and when: recorded in the
runner and in its worker processes, whatever the backend and the nesting.

joblib hands every batch of calls it runs in parallel to `Parallel._dispatch` as a
`BatchedCalls`. While the runner records, that method wraps each batch in a `TaskProbe`,
a small picklable callable that times the batch where it runs (time.time(), one clock
for every process) and says which process and thread ran it. A probe that runs in
another process (a loky or multiprocessing worker) installs the same patch there the
first time, so calls nested in a task (a forest's trees in threads inside a
cross-validation fold) are recorded too, their level one more than their task's.

Where the records go: in the runner, a list in memory; in a worker, a list kept until the
outermost task in that process ends, then one line each appended to a file of its own in
the run's directory, which the runner reads and empties after each measured call and
removes at the end (after a cancel, the supervisor does: see
`treemeter.remove_joblib_leftovers`). Calls that joblib runs
one after another in the caller (n_jobs=1) make no batches: a top-level one that started
no parallel work itself is recorded as a single span (a serial refit, say).

The Dask backend submits the calls itself: its tasks come from the scheduler's task
stream instead (`dask_spans`), and the calls nested in them, which run inside the worker
(`daskjobs`), are not recorded.

This module is imported by worker processes: nothing heavy at import time.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Any

from cpulab.engine.timeline import TaskSpan

DIRECTORY_PREFIX = "cpulab_tasks_"
# Labels of the functions scikit-learn hands joblib, where its own name says less.
FUNCTION_LABELS = {"_parallel_build_trees": "tree", "_fit_and_score": "fit"}
# What a top-level call after the outer one is, by the outer call's unit of progress.
FOLLOW_UPS = {"fits": "refit"}
DASK_KEY = re.compile(r"(?:mixed_)?batch_of_(.+)_(\d+)_calls")

# (worker, start, end, label, level, calls)
Record = tuple[str, float, float, str, int, int]


class _ProcessState:
    """What this process records: reset in a forked child, which inherits the parent's."""

    def __init__(self, directory: str | None, runner: bool):
        self.pid = os.getpid()
        self.directory = directory
        self.runner = runner
        self.recording = False  # runner only: within a measured call
        self.unit = ""
        self.top_calls = 0
        self.dispatched = 0  # batches wrapped in this process so far
        self.records: list[Record] = []
        self.threads: dict[int, int] = {}
        self.lock = threading.Lock()


_state: _ProcessState | None = None
THREAD = " thread "  # in a worker's name: "pid 4242 thread 2"
_local = threading.local()
_installed = False


def _here(directory: str | None = None) -> _ProcessState:
    global _state
    if _state is None or _state.pid != os.getpid():
        _state = _ProcessState(directory, runner=False)
    if directory is not None and _state.directory is None:
        _state.directory = directory
    return _state


def _depth() -> int:
    return getattr(_local, "depth", 0)


def worker_name(state: _ProcessState) -> str:
    """The worker's name: "pid 4242" for a process's main thread, "pid 4242 thread 2" for
    the second other thread it ran tasks in."""
    if threading.current_thread() is threading.main_thread():
        return f"pid {state.pid}"
    ident = threading.get_ident()
    with state.lock:
        number = state.threads.setdefault(ident, len(state.threads) + 1)
    return f"pid {state.pid}{THREAD}{number}"


def _function_name(func: Any) -> str:
    func = getattr(func, "function", func)  # scikit-learn's delayed wraps it
    func = getattr(func, "func", func)  # functools.partial
    name = getattr(func, "__name__", "") or type(func).__name__
    return FUNCTION_LABELS.get(name, name.strip("_") or "task")


def _numbered(name: str, first: int, count: int) -> str:
    return f"{name} {first}" if count == 1 else f"{name} {first}-{first + count - 1}"


class TaskProbe:
    """A joblib batch, timed where it runs; pickled with it to worker processes."""

    __slots__ = ("batch", "directory", "label", "level", "origin")

    def __init__(self, batch: Any, directory: str, label: str, level: int, origin: int):
        self.batch = batch
        self.directory = directory
        self.label = label
        self.level = level
        self.origin = origin  # the pid that dispatched it

    def __len__(self) -> int:
        return len(self.batch)

    def __getstate__(self) -> tuple[Any, ...]:
        return (self.batch, self.directory, self.label, self.level, self.origin)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.batch, self.directory, self.label, self.level, self.origin = state

    def __call__(self) -> Any:
        state = _here(self.directory)
        remote = state.pid != self.origin
        if remote:
            install()  # nested calls in this worker are dispatched here
        outer = _depth()
        _local.depth = self.level + 1
        start = time.time()
        try:
            return self.batch()
        finally:
            end = time.time()
            _local.depth = outer
            record = (worker_name(state), start, end, self.label, self.level, len(self.batch))
            with state.lock:
                state.records.append(record)
            if remote and outer == 0 and not state.runner:
                _flush(state)


def _flush(state: _ProcessState) -> None:
    """Append this worker's records to its file: once per outermost task it ran, before
    the task's result goes back, so the runner finds them when the call returns."""
    with state.lock:
        records, state.records = state.records, []
    if not records or state.directory is None:
        return
    lines = "".join(json.dumps(record, separators=(",", ":")) + "\n" for record in records)
    path = os.path.join(state.directory, f"{state.pid}.jsonl")
    # OSError: the run has ended and removed the directory.
    with contextlib.suppress(OSError), open(path, "a") as out:
        out.write(lines)


def _is_dask(parallel: Any) -> bool:
    """Whether joblib's Dask backend runs the call, or one made from it (`daskjobs`)."""
    backend = type(getattr(parallel, "_backend", None))
    return any(kind.__name__ == "DaskDistributedBackend" for kind in backend.__mro__)


def install() -> None:
    """Patch joblib's Parallel in this process, once: its calls note their nesting level,
    and each batch they dispatch is wrapped in a probe while recording."""
    global _installed
    if _installed:
        return
    _installed = True
    from joblib.parallel import BatchedCalls, Parallel

    original_call = Parallel.__call__
    original_dispatch = Parallel._dispatch

    def call(parallel: Any, iterable: Iterable[Any]) -> Any:
        state = _here()
        depth = _depth()
        if depth == 0 and not state.recording:
            return original_call(parallel, iterable)
        top = depth == 0
        index = state.top_calls
        if top:
            state.top_calls += 1
        parallel._cpulab_probe = (depth, index)
        dispatched = state.dispatched
        start = time.time()
        try:
            return original_call(parallel, iterable)
        finally:
            end = time.time()
            del parallel._cpulab_probe
            done = getattr(parallel, "n_completed_tasks", 0)
            if top and done and state.dispatched == dispatched and not _is_dask(parallel):
                # Run one after another here, with no parallel work inside: one span.
                label = (
                    _numbered(_singular(state.unit), 0, done)
                    if index == 0
                    else FOLLOW_UPS.get(state.unit, f"after the {state.unit or 'call'}")
                )
                with state.lock:
                    state.records.append((worker_name(state), start, end, label, 0, done))

    def dispatch(parallel: Any, batch: Any) -> Any:
        probe = getattr(parallel, "_cpulab_probe", None)
        state = _here()
        if probe is None or not isinstance(batch, BatchedCalls) or state.directory is None:
            return original_dispatch(parallel, batch)
        if _is_dask(parallel):
            return original_dispatch(parallel, batch)
        level, index = probe
        first, count = parallel.n_dispatched_tasks, len(batch)
        if level == 0 and index == 0 and state.unit:
            name = _singular(state.unit)
        else:
            name = _function_name(batch.items[0][0]) if batch.items else "task"
        state.dispatched += 1
        wrapped = TaskProbe(batch, state.directory, _numbered(name, first, count), level, state.pid)
        return original_dispatch(parallel, wrapped)

    Parallel.__call__ = call
    Parallel._dispatch = dispatch


def _singular(unit: str) -> str:
    return unit[:-1] if unit.endswith("s") else unit or "task"


class TaskRecorder:
    """The runner's side: a directory for the workers' records, the patch, and the
    measured call's tasks as `TaskSpan`s."""

    def __init__(self) -> None:
        self.directory = tempfile.mkdtemp(prefix=f"{DIRECTORY_PREFIX}{os.getpid()}_")
        global _state
        _state = _ProcessState(self.directory, runner=True)

    def install(self) -> None:
        install()

    @contextlib.contextmanager
    def recording(self, unit: str, client: Any = None) -> Iterator[list[TaskSpan]]:
        """Record the tasks of the calls made inside; the list is filled on the way out.
        With a Dask `client`, the cluster's from its scheduler's task stream, and the
        calls the runner makes itself as without one (a search's refit: `daskjobs`)."""
        state = _here(self.directory)
        spans: list[TaskSpan] = []
        with state.lock:
            state.records = []
        state.unit, state.top_calls, state.recording = unit, 0, True
        stream: Any = None
        try:
            if client is None:
                yield spans
            else:
                from distributed import get_task_stream

                with get_task_stream(client) as stream:
                    yield spans
        finally:
            state.recording = False
            with state.lock:
                records, state.records = state.records, []
            spans.extend(threads_numbered_in_call(_spans([*records, *self._read_workers()])))
            if stream is not None:
                spans.extend(dask_spans(stream.data))

    def _read_workers(self) -> list[Record]:
        records: list[Record] = []
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.directory):
                with contextlib.suppress(OSError):
                    with open(entry.path) as lines:
                        text = lines.read()
                    os.remove(entry.path)
                    for line in text.splitlines():
                        with contextlib.suppress(ValueError, TypeError):
                            worker, start, end, label, level, calls = json.loads(line)
                            records.append((worker, start, end, label, level, calls))
        return records

    def close(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def threads_numbered_in_call(spans: list[TaskSpan]) -> list[TaskSpan]:
    """One call's spans, each process's threads numbered by when each first ran a task in
    it. A pool made anew for each call (a forest's threads) then has the same names in
    every repeat: two workers over three repeats, not six, each idle in two of them."""
    first: dict[str, float] = {}
    for span in spans:
        if THREAD in span.worker:
            first[span.worker] = min(span.start, first.get(span.worker, span.start))
    names: dict[str, str] = {}
    counts: dict[str, int] = {}
    for worker in sorted(first, key=first.__getitem__):
        process = worker.partition(THREAD)[0]
        counts[process] = counts.get(process, 0) + 1
        names[worker] = f"{process}{THREAD}{counts[process]}"
    return [replace(span, worker=names.get(span.worker, span.worker)) for span in spans]


def _spans(records: Iterable[Record]) -> list[TaskSpan]:
    spans = []
    for worker, start, end, label, level, calls in records:
        with contextlib.suppress(ValueError, TypeError):
            spans.append(
                TaskSpan(str(worker), float(start), float(end), str(label), int(level), int(calls))
            )
    return spans


def dask_spans(stream: Iterable[Mapping[str, Any]]) -> list[TaskSpan]:
    """The scheduler's task stream (distributed's `get_task_stream`) as spans: each
    task's compute stretch, its worker the Dask worker's address. joblib names each task
    it submits "[mixed_]batch_of_<function>_<calls>_calls-<uuid>". Only the measured
    call's own tasks go to the cluster (`daskjobs`): every span is level 0."""
    spans = []
    counts: dict[str, int] = {}
    for record in sorted(stream, key=_compute_start):
        found = DASK_KEY.match(str(record.get("key", "")))
        name, calls = (
            (FUNCTION_LABELS.get(found[1], found[1].strip("_") or "task"), int(found[2]))
            if found
            else ("task", 1)
        )
        for part in record.get("startstops", ()):
            if part.get("action") != "compute":
                continue
            first = counts.get(name, 0)
            counts[name] = first + calls
            with contextlib.suppress(KeyError, ValueError, TypeError):
                spans.append(
                    TaskSpan(
                        str(record.get("worker", "?")),
                        float(part["start"]),
                        float(part["stop"]),
                        _numbered(name, first, calls),
                        0,
                        calls,
                    )
                )
    return spans


def _compute_start(record: Mapping[str, Any]) -> float:
    starts = [p["start"] for p in record.get("startstops", ()) if "start" in p]
    return min(starts, default=0.0)
