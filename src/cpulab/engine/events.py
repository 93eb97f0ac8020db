"""The events a run emits, and their JSON-lines form.

The runner child prints one JSON object per line; the supervisor parses each line back
into one of these dataclasses. Anything that does not parse becomes an `Error`, so a
garbled child can never crash or hang its parent.
"""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
import types
import typing
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

# The flag of a point whose measured runs are not all done yet: the runner reports each
# run as it ends, and a sweep cut short keeps such points.
PARTIAL = "partial"
# Phases in the order a run goes through them.
PHASES = ("imports", "data", "workers", "warmup", "fit", "score")
PHASE_TITLES = {
    "imports": "importing libraries",
    "data": "preparing data",
    "workers": "starting workers",
    "warmup": "warming up",
    "fit": "fitting",
    "score": "scoring",
}


# Result fields a record leaves out where empty (see Result.record).
OPTIONAL = ("memory", "timeline", "conditions")


class EventError(ValueError):
    """A line from the child that is not a valid event."""


def finite_or_none(value: Any) -> Any:
    """`value` with every NaN and infinity in it, however deep in dicts and lists, as None:
    JSON has no such numbers, and a strict reader refuses a whole document for one."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite_or_none(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite_or_none(item) for item in value]
    return value


def compact_json(value: Any) -> str:
    """`value` as one line of JSON, without spaces, every NaN and infinity as null."""
    return json.dumps(finite_or_none(value), separators=(",", ":"), allow_nan=False)


@dataclass(frozen=True)
class Event:
    kind: ClassVar[str] = ""

    def to_json(self) -> str:
        """One line of JSON; a NaN or infinity in it (a score, say) is written as null."""
        return compact_json({"event": self.kind, **asdict(self)})


@dataclass(frozen=True)
class Started(Event):
    """The child is alive; `pid` leads its own process group."""

    kind: ClassVar[str] = "started"
    pid: int
    pgid: int
    t: float


@dataclass(frozen=True)
class Phase(Event):
    kind: ClassVar[str] = "phase"
    name: str
    t: float
    repeat: int | None = None  # which warm-up or measured repeat, counted from 1
    point: int | None = None  # which configuration of a sweep, counted from 0

    @property
    def title(self) -> str:
        return PHASE_TITLES.get(self.name, self.name)


@dataclass(frozen=True)
class Progress(Event):
    """Units of the measured call done so far: folds, candidates, trees or models."""

    kind: ClassVar[str] = "progress"
    done: int
    total: int | None
    unit: str
    t: float
    point: int | None = None


@dataclass(frozen=True)
class WorkerLoad(Event):
    """Each Dask worker's load as its scheduler last heard it (workers report about twice a
    second), sent about twice a second while a run uses a Dask cluster, local or remote.

    One dict per worker, ordered by address: "name" (str), "address" (str), "host" (str),
    "cpu" (percent of one core: 100 is one core busy), "threads" (int, the worker's task
    threads), "memory" (bytes resident), "memory_limit" (bytes, 0 when unlimited).
    """

    kind: ClassVar[str] = "worker_load"
    t: float
    workers: list[dict[str, Any]]


@dataclass(frozen=True)
class Result(Event):
    kind: ClassVar[str] = "result"
    task: str
    title: str
    scale: str
    train: int  # training cores (estimator n_jobs)
    eval: int  # evaluation cores (CV / search / models-at-once n_jobs)
    available: int  # cores this process could use
    fit_times: list[float]  # seconds of each measured repeat, perf_counter around the call
    warmup_times: list[float]
    setup: dict[str, float]  # seconds spent importing, preparing data, starting workers
    cpu_time: float  # CPU seconds of the whole process tree during the measured repeats
    peak_rss: int  # bytes: highest sampled sum of resident memory over the process tree
    score: float | None
    metric: str
    details: dict[str, Any] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)  # "oversubscribed", "noisy", "partial"
    # The hardware: hostname, cpu_model, logical_cores, physical_cores, cores (the budget).
    machine: dict[str, Any] = field(default_factory=dict)
    # What ran on it: python, platform, libraries {name: version}, threadpools (the
    # runner's BLAS/OpenMP pools in the measured call).
    software: dict[str, Any] = field(default_factory=dict)
    # Average cores busy with other processes, stolen by a hypervisor, or waiting on I/O
    # while this point was measured.
    load: dict[str, float] = field(default_factory=dict)
    worker_times: list[float] = field(default_factory=list)  # seconds, each worker start-up
    variant: str = ""  # the user's data, backend, threads where not the task's own: RunSpec.variant
    options: dict[str, Any] = field(default_factory=dict)  # data, backend, cluster, blas_threads
    # BLAS/OpenMP pools in effect (threadpoolctl): {"runner": [...], "workers": [...]}; each
    # worker pool names its "worker" (pid, or Dask address); no workers: an empty list
    threads: dict[str, Any] = field(default_factory=dict)
    # Peak memory over the measured runs, bytes, read about once a second: "runner_uss"
    # (the runner's unique memory), "worker_uss" (each worker process's, largest first),
    # "helper_uss" (joblib's resource trackers, together), "total_pss" (the highest sum
    # of the tree's proportional memory: shared pages counted once), "limit" (what the
    # machine let a run use: physical memory or the cgroup's memory.max, the lower; None
    # where unknown). Empty where the result predates it. See engine/memory.py.
    memory: dict[str, Any] = field(default_factory=dict)
    # What happened over time in the measured repeats (a sweep's point: its last): each
    # core's use, the phases, the joblib tasks per worker, as engine/timeline.py
    # `Timeline.to_dict()` stores them; read with `Timeline.from_dict`. None where not
    # recorded (a result from before cpulab recorded one).
    timeline: dict[str, Any] | None = None
    # What made measurements on the machine less stable as the runner started, as
    # engine/doctor.py `summary()` writes it: {item: {"value", "status", "advice" where
    # warned}} (governor, turbo, SMT, isolated CPUs, cgroup quota and memory). Empty where
    # the result predates it.
    conditions: dict[str, Any] = field(default_factory=dict)

    @property
    def fit_time(self) -> float:
        """The median measured time: the figure to compare across points."""
        return statistics.median(self.fit_times)

    @property
    def cores_used(self) -> int:
        return self.train * self.eval

    @property
    def partial(self) -> bool:
        """Reported before its last measured run: no score yet, fewer runs than asked."""
        return PARTIAL in self.flags

    def summary(self) -> dict[str, Any]:
        """The full record plus the derived figures, as the CLI's --json prints it: strict
        JSON, a NaN or infinity written as null."""
        return finite_or_none(self.record())

    def record(self) -> dict[str, Any]:
        """`summary` as it is, NaN and all, sharing this result's own lists and dicts: to
        read, not to change. Exports write a store's worth of these, and copy nothing."""
        return {
            **self._fields(),
            "fit_time": self.fit_time,
            "fit_min": min(self.fit_times),
            "fit_max": max(self.fit_times),
        }

    def to_json(self) -> str:
        """The result as the store keeps it and the runner sends it: `record` without its
        derived figures, on one line."""
        return compact_json({"event": self.kind, **self._fields()})

    def _fields(self) -> dict[str, Any]:
        """Its fields, less a memory never read, a timeline never recorded and machine
        conditions never read (a result from before cpulab did any): the exports of
        older stores stay as they were."""
        return {
            **{f.name: getattr(self, f.name) for f in fields(self) if f.name not in OPTIONAL},
            **({"memory": self.memory} if self.memory else {}),
            **({"timeline": self.timeline} if self.timeline is not None else {}),
            **({"conditions": self.conditions} if self.conditions else {}),
        }


@dataclass(frozen=True)
class Error(Event):
    """The run failed: the task raised, the child died, or it printed garbage."""

    kind: ClassVar[str] = "error"
    type: str
    message: str
    traceback: str = ""
    exit_status: int | None = None
    stderr_tail: str = ""

    @property
    def bad_input(self) -> bool:
        """The runner refused what the user gave it (a data file, a task file, an address):
        not a failure of the task."""
        return self.type == "UsageError"

    def one_line(self) -> str:
        """The error in one line: a message of several lines (scikit-learn's report of
        failed fits, say) by its first, as the traceback after it ends with all of it."""
        lines = [line for line in self.message.splitlines() if line.strip()]
        said = lines[0].strip() + (" ..." if len(lines) > 1 else "") if lines else ""
        if self.bad_input:
            return said
        return f"{self.type}: {said}" if said else self.type


@dataclass(frozen=True)
class Cancelled(Event):
    """Made by the supervisor, not the child: the run was stopped on request."""

    kind: ClassVar[str] = "cancelled"
    seconds: float  # from the cancel request until the whole tree was gone


EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls for cls in (Started, Phase, Progress, WorkerLoad, Result, Error, Cancelled)
}


def parse_event(line: str | bytes) -> Event:
    """Parse one JSON line into an event, raising EventError for anything else."""
    try:
        data = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EventError(f"not JSON: {exc}") from None
    except RecursionError:  # thousands of nested brackets: no event nests that deep
        raise EventError("not JSON: nested too deeply") from None
    return event_from_dict(data)


def event_from_dict(data: Any) -> Event:
    """An event from its decoded JSON object, every field checked against its type."""
    if not isinstance(data, dict):
        raise EventError("not a JSON object")
    data = dict(data)
    kind = data.pop("event", None)
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise EventError(f"unknown event {kind!r}")
    checks, required = _field_checks(cls)
    values = {k: v for k, v in data.items() if k in checks}
    missing = [name for name in required if name not in values]
    if missing:
        raise EventError(f"{kind} event without {', '.join(missing)}")
    for name, value in values.items():
        if not checks[name](value):
            raise EventError(f"{kind} event has a bad {name}: {value!r:.60}")
    if cls is Result and not values["fit_times"]:
        raise EventError("result event without any measured time")
    return cls(**values)


Check = Callable[[Any], bool]
# Per event type: each field's check, and the fields without a default.
_FIELD_CHECKS: dict[type[Event], tuple[dict[str, Check], tuple[str, ...]]] = {}


def _field_checks(cls: type[Event]) -> tuple[dict[str, Check], tuple[str, ...]]:
    """Made once per event type from its annotations: a store is read a result at a time,
    by the hundred thousand."""
    if cls not in _FIELD_CHECKS:
        hints = typing.get_type_hints(cls)
        checks = {f.name: _check_of(hints[f.name]) for f in fields(cls)}
        _FIELD_CHECKS[cls] = checks, tuple(f.name for f in fields(cls) if _required(f))
    return _FIELD_CHECKS[cls]


def _required(f) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _check_of(hint: Any) -> Check:
    """Whether a decoded JSON value fits an annotation (the shapes events use)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return lambda value: True
    if origin in (typing.Union, types.UnionType):
        checks = [_check_of(arg) for arg in args]
        return lambda value: any(check(value) for check in checks)
    if hint is type(None):
        return lambda value: value is None
    if hint is float:
        return lambda value: isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return lambda value: isinstance(value, int) and not isinstance(value, bool)
    if origin is list:
        item = _check_of(args[0])
        return lambda value: isinstance(value, list) and all(map(item, value))
    if origin is dict:
        if args[1] is Any:  # the common case, with no value to look at
            return lambda value: isinstance(value, dict)
        item = _check_of(args[1])
        return lambda value: isinstance(value, dict) and all(map(item, value.values()))
    return lambda value: isinstance(value, hint)
