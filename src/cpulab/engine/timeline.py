"""The timeline of one run: how busy each core was, which worker ran which task and when
each phase began and ended; the figures derived from them, their stored form, and a line
of diagnosis.

Pure data and arithmetic: no scikit-learn, no numpy, no Textual. The runner records a
`Timeline`, the store keeps its `to_dict()` with the result, and the views (the app,
`cpulab show`) draw it with `cpulab.engine.timeline_view`.

One clock throughout: `time.time()` seconds, so core samples taken in one process and
tasks timed in workers line up.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import sys
import zlib
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from cpulab.engine.events import Result

TIMELINE_VERSION = 1

# A stretch of time: (start, end), time.time() seconds.
Window = tuple[float, float]

# Core use is stored as uint8 half-percents (0-200 is 0-100 % in steps of 0.5 %), and the
# run's own share as uint32 hundredths of a core: a 60 s run on 256 cores at 4 Hz is
# 61,440 bytes before zlib, at most about 82 kB in base64 even when nothing compresses.
HALF_PERCENTS = 2
OWN_STEPS = 100
_U32 = next(code for code in "IL" if array(code).itemsize == 4)

# Aggregation: a worker (a thread of a forest, say) with more tasks than this has its
# consecutive tasks merged into spans when closer than MERGE_GAP seconds; the gap doubles
# until the worker is within the limit, so what is stored stays bounded.
MOST_SPANS_PER_WORKER = 200
MERGE_GAP = 0.005
# And over all workers: where many workers each stay under their limit (256 processes of
# 150 fits), each gets an equal share of this, down to FEWEST_SPANS_PER_WORKER. A span is
# about 70 bytes stored, so the tasks stay within a few hundred kB.
MOST_SPANS = 4000
FEWEST_SPANS_PER_WORKER = 8

# A sample is serial when the run keeps fewer than this many cores busy: "one core" after
# rounding, so a serial refit at 1.1 cores counts and a pair of workers does not.
SERIAL_CORES = 1.5

# The diagnosis names a cause when its share of the time reaches its threshold, the
# largest such cause winning; with none, low efficiency is named on its own.
IMBALANCE_SHARE = 0.15  # of the measured wall, fewer than all workers busy at the end
SERIAL_SHARE = 0.15  # of the measured wall, at most one core busy
STARTUP_SHARE = 0.15  # of the whole run, in the "workers" phase
LOW_EFFICIENCY = 0.6  # CPU seconds / (wall x cores given)
# Serial stretches are read from the core samples where a measured call spans at least
# this many of them; a shorter call (a second at 4 Hz) takes them from its tasks, whose
# edges are exact, where it has any.
MIN_SAMPLES_PER_CALL = 8
# The run's CPU is read from the core samples in the measured call, each taken as even
# through its interval. Past this share of the call's time read from samples that straddle
# its start or end (a call of a sample or two), that reading is rough: it names no cause.
ROUGH_EDGES = 0.25


class TimelineError(ValueError):
    """A stored timeline that cannot be read."""


def _pack(data: bytes) -> str:
    return base64.b64encode(zlib.compress(data, 9)).decode("ascii")


def _unpack(text: str) -> bytes:
    try:
        return zlib.decompress(base64.b64decode(text, validate=True))
    except (binascii.Error, zlib.error, TypeError) as error:
        raise TimelineError(f"unreadable packed samples: {error}") from None


def _u32_bytes(values: Sequence[int]) -> bytes:
    packed = array(_U32, values)
    if sys.byteorder == "big":
        packed.byteswap()  # stored little-endian, whatever the machine
    return packed.tobytes()


def _u32_values(data: bytes) -> tuple[int, ...]:
    packed = array(_U32)
    packed.frombytes(data)
    if sys.byteorder == "big":
        packed.byteswap()
    return tuple(packed)


@dataclass(frozen=True)
class CoreSamples:
    """How busy each core the run may use was, sample by sample.

    Sample i is the mean over [t0 + i * interval, t0 + (i + 1) * interval). `values` holds
    half-percents, sample after sample: core `cores[j]` of sample i is at
    i * len(cores) + j. `own` is the run's own process tree, in hundredths of a core per
    sample; empty where it was not recorded.
    """

    t0: float
    interval: float
    cores: tuple[int, ...]
    values: bytes
    own: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not (self.interval > 0 and math.isfinite(self.interval) and math.isfinite(self.t0)):
            raise TimelineError(f"bad sample clock: t0 {self.t0}, interval {self.interval}")
        if not self.cores or len(self.values) % len(self.cores):
            raise TimelineError(
                f"{len(self.values)} values do not fill samples of {len(self.cores)} cores"
            )
        if self.values and max(self.values) > 100 * HALF_PERCENTS:
            raise TimelineError("a core value above 100 %")
        if self.own and len(self.own) != self.samples:
            raise TimelineError(f"{len(self.own)} own-share values for {self.samples} samples")

    @classmethod
    def from_percent(
        cls,
        t0: float,
        interval: float,
        cores: Sequence[int],
        rows: Iterable[Sequence[float]],
        own: Iterable[float] | None = None,
    ) -> CoreSamples:
        """Samples from percents (one row of len(cores) values per sample) and the run's
        own share in cores, rounded to what is stored."""
        values = bytearray()
        for row in rows:
            if len(row) != len(cores):
                raise TimelineError(f"a sample of {len(row)} values for {len(cores)} cores")
            values.extend(min(100 * HALF_PERCENTS, max(0, round(v * HALF_PERCENTS))) for v in row)
        shares = tuple(max(0, round(v * OWN_STEPS)) for v in own) if own is not None else ()
        return cls(t0, interval, tuple(cores), bytes(values), shares)

    @property
    def samples(self) -> int:
        return len(self.values) // len(self.cores)

    @property
    def end(self) -> float:
        return self.t0 + self.samples * self.interval

    def percent(self, sample: int, core_index: int) -> float:
        return self.values[sample * len(self.cores) + core_index] / HALF_PERCENTS

    def group_percent(self, sample: int, first: int, stop: int) -> float:
        """Mean percent of cores[first:stop] in one sample."""
        base = sample * len(self.cores)
        return sum(self.values[base + first : base + stop]) / (HALF_PERCENTS * (stop - first))

    def own_cores(self, sample: int) -> float | None:
        return self.own[sample] / OWN_STEPS if self.own else None

    def busy_cores(self, sample: int) -> float:
        """Cores the run kept busy: its own share where recorded, else all use of its cores
        (other processes' included)."""
        if self.own:
            return self.own[sample] / OWN_STEPS
        return self.group_percent(sample, 0, len(self.cores)) * len(self.cores) / 100

    def sample_range(self, start: float, end: float) -> range:
        """The samples that overlap [start, end): found by arithmetic, not by search."""
        first = max(0, math.floor((start - self.t0) / self.interval))
        stop = min(self.samples, math.ceil((end - self.t0) / self.interval))
        return range(first, max(first, stop))

    def sample_window(self, sample: int) -> Window:
        start = self.t0 + sample * self.interval
        return start, start + self.interval

    def to_dict(self) -> dict[str, Any]:
        return {
            "t0": self.t0,
            "interval": self.interval,
            "cores": list(self.cores),
            "values": _pack(self.values),
            "own": _pack(_u32_bytes(self.own)) if self.own else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CoreSamples:
        own = data.get("own")
        return cls(
            float(data["t0"]),
            float(data["interval"]),
            tuple(int(core) for core in data["cores"]),
            _unpack(data["values"]),
            _u32_values(_unpack(own)) if own else (),
        )


def _check_span(start: float, end: float, what: str) -> None:
    """Times that JSON can store (no NaN) and that run forwards."""
    if not (math.isfinite(start) and math.isfinite(end) and end >= start):
        raise TimelineError(f"{what}: bad times {start} to {end}")


@dataclass(frozen=True)
class PhaseSpan:
    """One phase of the run (imports, data, workers, warmup, fit, score), as in
    `cpulab.engine.events.PHASES`; `repeat` counts warm-up and measured repeats from 1."""

    name: str
    start: float
    end: float
    point: int | None = None
    repeat: int | None = None

    def __post_init__(self) -> None:
        _check_span(self.start, self.end, f"phase {self.name}")

    @property
    def title(self) -> str:
        return self.name if self.repeat is None else f"{self.name} {self.repeat}"


class PhaseMark(Protocol):
    """What `phases_from_events` reads of a phase event (`cpulab.engine.events.Phase`)."""

    @property
    def name(self) -> str: ...
    @property
    def t(self) -> float: ...
    @property
    def point(self) -> int | None: ...
    @property
    def repeat(self) -> int | None: ...


def phases_from_events(marks: Iterable[PhaseMark], end: float) -> tuple[PhaseSpan, ...]:
    """Phase spans from phase-change events: each lasts until the next begins, the last
    until `end`."""
    ordered = sorted(marks, key=lambda mark: mark.t)
    ends = [mark.t for mark in ordered[1:]] + [end]
    return tuple(
        PhaseSpan(mark.name, mark.t, max(mark.t, stop), mark.point, mark.repeat)
        for mark, stop in zip(ordered, ends, strict=True)
    )


@dataclass(frozen=True)
class TaskSpan:
    """One joblib task (batch) of the measured call, or `count` consecutive tasks of one
    worker merged into one span.

    `worker` names where it ran: "pid 4242" for a process, "pid 4242 thread 2" for the
    second of its threads to run a task in the call (a pool made for each call has the
    same names in each), a Dask worker's address. `level` is the nesting:
    0 the outer call (cross-validation folds, candidates), 1 the calls inside it (trees).
    """

    worker: str
    start: float
    end: float
    label: str = ""
    level: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        _check_span(self.start, self.end, f"task {self.label or self.worker}")


_NUMBERED = re.compile(r"^(.*?)(\d+)$")


def _span_label(first: str, last: str) -> str:
    """The label of a span: from "tree 0" to "tree 24" reads "tree 0-24", others "a .. b"."""
    if first == last:
        return first
    a, b = _NUMBERED.match(first), _NUMBERED.match(last)
    if a and b and a.group(1) == b.group(1):
        return f"{first}-{b.group(2)}"
    return f"{first} .. {last}" if first and last else first or last


def _merge(tasks: list[TaskSpan], gap: float) -> list[TaskSpan]:
    """Consecutive tasks of one worker (sorted by start) closer than `gap` as spans."""
    spans: list[TaskSpan] = []
    first = tasks[0]
    end, count, last = first.end, first.count, first
    for task in tasks[1:]:
        if task.start - end < gap:
            end, count, last = max(end, task.end), count + task.count, task
            continue
        spans.append(_joined(first, last, end, count))
        first, end, count, last = task, task.end, task.count, task
    spans.append(_joined(first, last, end, count))
    return spans


def _joined(first: TaskSpan, last: TaskSpan, end: float, count: int) -> TaskSpan:
    if first is last:
        return first
    return TaskSpan(
        first.worker, first.start, end, _span_label(first.label, last.label), first.level, count
    )


def aggregate(
    tasks: Iterable[TaskSpan], most: int = MOST_SPANS_PER_WORKER, gap: float = MERGE_GAP
) -> tuple[list[TaskSpan], float | None]:
    """The tasks with those of each worker that has more than `most` merged into spans:
    consecutive tasks closer than `gap`, the gap doubling until the worker is within
    `most` (less where the workers together have more than MOST_SPANS). Also the largest
    gap used: None where nothing was merged."""
    by_worker: dict[tuple[str, int], list[TaskSpan]] = {}
    for task in tasks:
        by_worker.setdefault((task.worker, task.level), []).append(task)
    if sum(map(len, by_worker.values())) > MOST_SPANS:
        most = min(most, max(FEWEST_SPANS_PER_WORKER, MOST_SPANS // len(by_worker)))
    out: list[TaskSpan] = []
    used: float | None = None
    for own in by_worker.values():
        own.sort(key=lambda task: task.start)
        if len(own) <= most:
            out.extend(own)
            continue
        step = max(gap, 1e-6)
        spans = _merge(own, step)
        while len(spans) > most:
            step *= 2
            spans = _merge(own, step)
        out.extend(spans)
        if len(spans) < len(own):
            used = step if used is None else max(used, step)
    out.sort(key=lambda task: (task.start, task.worker))
    return out, used


@dataclass(frozen=True)
class Timeline:
    """Everything recorded over time for one measured run.

    `calls` are the measured call's windows, one per measured repeat: the figures are
    taken over them. `merge_gap` says tiny tasks were merged into spans (see `aggregate`).
    """

    cores: CoreSamples | None = None
    phases: tuple[PhaseSpan, ...] = ()
    tasks: tuple[TaskSpan, ...] = ()
    calls: tuple[Window, ...] = ()
    merge_gap: float | None = None

    @classmethod
    def build(
        cls,
        cores: CoreSamples | None = None,
        phases: Iterable[PhaseSpan] = (),
        tasks: Iterable[TaskSpan] = (),
        calls: Iterable[Window] = (),
        most: int = MOST_SPANS_PER_WORKER,
        gap: float = MERGE_GAP,
    ) -> Timeline:
        """A timeline with its tasks aggregated where a worker has more than `most`."""
        spans, used = aggregate(tasks, most, gap)
        return cls(cores, tuple(phases), tuple(spans), tuple(calls), used)

    @property
    def task_count(self) -> int:
        """Tasks recorded, those merged into spans included."""
        return sum(task.count for task in self.tasks)

    @property
    def aggregated(self) -> int:
        """Tasks merged into spans of more than one: 0 where none were."""
        return sum(task.count for task in self.tasks if task.count > 1)

    def measured(self) -> tuple[Window, ...]:
        """The measured call's windows; without any, the span of the tasks."""
        if self.calls:
            return self.calls
        if self.tasks:
            return ((min(t.start for t in self.tasks), max(t.end for t in self.tasks)),)
        return ()

    def extent(self) -> Window | None:
        """From the first thing recorded to the last."""
        starts = [p.start for p in self.phases] + [a for a, _ in self.measured()]
        ends = [p.end for p in self.phases] + [b for _, b in self.measured()]
        if self.cores is not None and self.cores.samples:
            starts.append(self.cores.t0)
            ends.append(self.cores.end)
        return (min(starts), max(ends)) if starts else None

    def origin(self) -> float | None:
        """Time zero of the views' axes: the start of the first phase, else of the extent."""
        if self.phases:
            return min(p.start for p in self.phases)
        extent = self.extent()
        return extent[0] if extent else None

    def workers(self) -> list[tuple[str, int]]:
        """(worker, level) of every worker, outer level first, then by first task."""
        first: dict[tuple[str, int], float] = {}
        for task in self.tasks:
            key = (task.worker, task.level)
            first[key] = min(first.get(key, task.start), task.start)
        return sorted(first, key=lambda key: (key[1], first[key], key[0]))

    def to_dict(self) -> dict[str, Any]:
        """The stored form: JSON-ready, tasks by column, worker names once."""
        names = sorted({task.worker for task in self.tasks})
        index = {name: i for i, name in enumerate(names)}
        return {
            "timeline_version": TIMELINE_VERSION,
            "cores": self.cores.to_dict() if self.cores is not None else None,
            "phases": [
                {
                    "name": p.name,
                    "start": p.start,
                    "end": p.end,
                    "point": p.point,
                    "repeat": p.repeat,
                }
                for p in self.phases
            ],
            "workers": names,
            "tasks": {
                "worker": [index[t.worker] for t in self.tasks],
                "start": [t.start for t in self.tasks],
                "end": [t.end for t in self.tasks],
                "label": [t.label for t in self.tasks],
                "level": [t.level for t in self.tasks],
                "count": [t.count for t in self.tasks],
            },
            "calls": [list(call) for call in self.calls],
            "merge_gap": self.merge_gap,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Timeline | None:
        """The timeline stored with a result; None for a result stored without one."""
        if data is None:
            return None
        version = data.get("timeline_version")
        if version != TIMELINE_VERSION:
            raise TimelineError(
                f"timeline version {version!r}: this cpulab reads version {TIMELINE_VERSION}"
            )
        try:
            cores = data.get("cores")
            names = list(data.get("workers", []))
            columns = data.get("tasks") or {}
            tasks = tuple(
                TaskSpan(names[w], float(s), float(e), str(label), int(level), int(count))
                for w, s, e, label, level, count in zip(
                    columns.get("worker", []),
                    columns.get("start", []),
                    columns.get("end", []),
                    columns.get("label", []),
                    columns.get("level", []),
                    columns.get("count", []),
                    strict=True,
                )
            )
            gap = data.get("merge_gap")
            return cls(
                CoreSamples.from_dict(cores) if cores else None,
                tuple(
                    PhaseSpan(
                        str(p["name"]),
                        float(p["start"]),
                        float(p["end"]),
                        p.get("point"),
                        p.get("repeat"),
                    )
                    for p in data.get("phases", [])
                ),
                tasks,
                tuple((float(a), float(b)) for a, b in data.get("calls", [])),
                float(gap) if gap is not None else None,
            )
        except (AttributeError, KeyError, IndexError, TypeError, ValueError) as error:
            if isinstance(error, TimelineError):
                raise
            raise TimelineError(f"not a timeline: {error!r}") from None


# Interval arithmetic on sorted, disjoint windows.


def _union(windows: Iterable[Window]) -> list[Window]:
    merged: list[Window] = []
    for a, b in sorted(w for w in windows if w[1] > w[0]):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _length(windows: Iterable[Window]) -> float:
    return sum(b - a for a, b in windows)


def _clip(windows: Iterable[Window], start: float, end: float) -> list[Window]:
    return [(max(a, start), min(b, end)) for a, b in windows if b > start and a < end]


def _steps(busy: Iterable[list[Window]], start: float, end: float) -> list[tuple[Window, int]]:
    """How many of the workers (each a union of windows) are busy, stretch by stretch."""
    edges = sorted(
        (t, step)
        for windows in busy
        for a, b in _clip(windows, start, end)
        for t, step in ((a, 1), (b, -1))
    )
    out: list[tuple[Window, int]] = []
    now, count = start, 0
    for t, step in edges:
        if t > now:
            out.append(((now, t), count))
            now = t
        count += step
    if end > now:
        out.append(((now, end), count))
    return out


@dataclass(frozen=True)
class WorkerBusy:
    worker: str
    level: int
    tasks: int  # tasks it ran in the measured call, those merged into spans included
    busy: float  # fraction of the measured wall time it was running a task


@dataclass(frozen=True)
class TimelineFigures:
    """What the timeline says about one run. Seconds are summed over the measured calls;
    a figure is None where what it needs was not recorded."""

    wall: float  # seconds of the measured call(s)
    cores_given: int
    workers_given: int  # outer workers: those seen, or the number the run asked for
    cpu_seconds: float | None  # the run's own CPU in the measured call (core samples)
    workers: tuple[WorkerBusy, ...]
    idle_tail: float | None  # from the first outer worker idle for good to the call's end
    imbalance: float | None  # seconds of that tail with some but not all workers busy
    last_wave: int | None  # workers busy for most of those seconds
    serial: float | None  # seconds with at most one core busy
    serial_at_end: float | None  # the final serial stretch of the call
    serial_label: str | None  # the task that fills that stretch, where one does
    startup: float | None  # seconds in the "workers" phase
    run: float | None  # seconds of the whole run, first phase to last
    tasks: int
    spans: int
    aggregated: int
    merge_gap: float | None
    calls: int = 1  # the measured calls `wall` sums
    cpu_rough: bool = False  # `cpu_seconds` read mostly from samples straddling the calls

    @staticmethod
    def _share(part: float | None, whole: float | None) -> float | None:
        return part / whole if part is not None and whole else None

    @property
    def efficiency(self) -> float | None:
        return self._share(self.cpu_seconds, self.wall * self.cores_given)

    @property
    def idle_tail_share(self) -> float | None:
        return self._share(self.idle_tail, self.wall)

    @property
    def imbalance_share(self) -> float | None:
        return self._share(self.imbalance, self.wall)

    @property
    def serial_share(self) -> float | None:
        return self._share(self.serial, self.wall)

    @property
    def serial_at_end_share(self) -> float | None:
        return self._share(self.serial_at_end, self.wall)

    @property
    def startup_share(self) -> float | None:
        return self._share(self.startup, self.run)


def why_no_timeline(partial: bool) -> str:
    """Why a result has no timeline: it is kept with a finished point only."""
    if partial:
        return "this result was cut short; only a finished point keeps a timeline"
    return "this result was measured before timelines were recorded"


def cores_given(result: Result) -> int:
    """The cores a run was given, up to the cores available: its threads, train x eval x
    BLAS threads, or on Dask the threads of the cluster workers it used. A 1 x 1 run on 8
    cores was given one; its other seven idle are not its inefficiency."""
    cluster = result.details.get("cluster")
    if isinstance(cluster, dict) and isinstance(
        threads := cluster.get("used_threads", cluster.get("threads")), int
    ):
        asked = threads
    else:
        blas = result.options.get("blas_threads")
        asked = result.train * result.eval * (blas if isinstance(blas, int) and blas > 0 else 1)
    return max(1, min(asked, result.available))


def figures(
    timeline: Timeline, cores_given: int, workers_given: int | None = None
) -> TimelineFigures:
    """The derived figures over the measured call(s). `workers_given`: the outer workers
    the run asked for, where more than got a task (they count as idle from the start)."""
    calls = timeline.measured()
    wall = _length(calls)
    outer = min((task.level for task in timeline.tasks), default=0)
    busy: dict[tuple[str, int], list[Window]] = {}
    counts: dict[tuple[str, int], int] = {}
    for task in timeline.tasks:
        key = (task.worker, task.level)
        inside = [w for call in calls for w in _clip([(task.start, task.end)], *call)]
        if inside:
            busy.setdefault(key, []).extend(inside)
            counts[key] = counts.get(key, 0) + task.count
    for key in busy:
        busy[key] = _union(busy[key])
    outer_keys = [key for key in busy if key[1] == outer]
    given = max(len(outer_keys), workers_given or 0)
    levels = sorted({key[1] for key in busy})

    idle_tail = imbalance = tasks_serial = tasks_serial_end = 0.0
    waves: dict[int, float] = {}
    for start, end in calls:
        # Outer workers with no task in this call were idle from its start.
        lasts = [
            max((b for a, b in busy[key] if a < end and b > start), default=start)
            for key in outer_keys
        ] + [start] * (given - len(outer_keys))
        first_idle = min(lasts, default=end)
        idle_tail += end - first_idle
        for (a, b), count in _steps((busy[key] for key in outer_keys), first_idle, end):
            if 0 < count < given:
                imbalance += b - a
                waves[count] = waves.get(count, 0.0) + b - a
        # From tasks: parallel where some level has two or more workers busy at once.
        parallel = _union(
            window
            for level in levels
            for window, count in _steps((busy[key] for key in busy if key[1] == level), start, end)
            if count >= 2
        )
        tasks_serial += end - start - _length(parallel)
        tasks_serial_end += end - (parallel[-1][1] if parallel else start)

    cpu_seconds, serial, serial_end, edges = _from_samples(timeline.cores, calls)
    coarse = (
        timeline.cores is not None
        and bool(calls)
        and wall / len(calls) < MIN_SAMPLES_PER_CALL * timeline.cores.interval
    )
    if (serial is None or coarse) and timeline.tasks:
        serial, serial_end = tasks_serial, tasks_serial_end
    startup_phases = [p for p in timeline.phases if p.name == "workers"]
    run = (
        max(p.end for p in timeline.phases) - min(p.start for p in timeline.phases)
        if timeline.phases
        else None
    )
    has_tasks = bool(busy)
    return TimelineFigures(
        wall=wall,
        cores_given=cores_given,
        workers_given=given,
        cpu_seconds=cpu_seconds,
        workers=tuple(
            WorkerBusy(key[0], key[1], counts[key], _length(busy[key]) / wall if wall else 0.0)
            for key in timeline.workers()
            if key in busy
        ),
        idle_tail=idle_tail if has_tasks else None,
        imbalance=imbalance if has_tasks else None,
        last_wave=max(waves, key=lambda n: (waves[n], n)) if waves else None,
        serial=serial,
        serial_at_end=serial_end,
        serial_label=_filling_label(
            timeline.tasks, calls[-1], serial_end / len(calls) if serial_end else None
        ),
        startup=_length((p.start, p.end) for p in startup_phases) if startup_phases else None,
        run=run,
        tasks=timeline.task_count,
        spans=len(timeline.tasks),
        aggregated=timeline.aggregated,
        merge_gap=timeline.merge_gap,
        calls=len(calls),
        cpu_rough=cpu_seconds is not None and edges > ROUGH_EDGES * wall,
    )


def _from_samples(
    cores: CoreSamples | None, calls: Sequence[Window]
) -> tuple[float | None, float | None, float | None, float]:
    """CPU seconds, serial seconds and the final serial stretch from the core samples
    (Nones where no sample falls in the calls), and the seconds of them read from samples
    that straddle a call's start or end."""
    if cores is None or not calls:
        return None, None, None, 0.0
    cpu = serial = serial_end = edges = 0.0
    seen = False
    for start, end in calls:
        at_end = True
        for i in reversed(cores.sample_range(start, end)):
            a, b = cores.sample_window(i)
            overlap = min(b, end) - max(a, start)
            if overlap <= 0:
                continue
            seen = True
            if a < start or b > end:
                edges += overlap
            used = cores.busy_cores(i)
            cpu += used * overlap
            if used < SERIAL_CORES:
                serial += overlap
                if at_end:
                    serial_end += overlap
            else:
                at_end = False
    return (cpu, serial, serial_end, edges) if seen else (None, None, None, 0.0)


def _filling_label(tasks: Sequence[TaskSpan], call: Window, stretch: float | None) -> str | None:
    """The label of the task that fills most of the call's final serial stretch (the
    calls' mean stretch: repeats are alike)."""
    if not stretch:
        return None
    start, end = call[1] - stretch, call[1]
    best, label = 0.0, None
    for task in tasks:
        overlap = min(task.end, end) - max(task.start, start)
        if overlap > best and task.label:
            best, label = overlap, task.label
    return label if best >= stretch / 2 else None


def _percent(share: float) -> str:
    return f"{share * 100:.0f} %"


def diagnosis(figures: TimelineFigures) -> str | None:
    """One line naming the cause that dominates, or None where none does.

    Each cause has a share of the time: the imbalance (some but not all workers busy after
    the first went idle for good) and the serial time (at most one core busy) of the
    measured wall, the start-up of the whole run. The largest that reaches its threshold
    (IMBALANCE_SHARE, SERIAL_SHARE, STARTUP_SHARE) is named; on a tie the imbalance, then
    the serial time. With none, an efficiency under LOW_EFFICIENCY is named by itself,
    where the samples can tell it (not `cpu_rough`).
    """
    causes: list[tuple[float, str]] = []
    share = figures.imbalance_share
    if share is not None and share >= IMBALANCE_SHARE and figures.last_wave is not None:
        causes.append(
            (
                share,
                f"last wave: {figures.last_wave} of {figures.workers_given} "
                f"workers busy for {_percent(share)} of the time",
            )
        )
    share = figures.serial_share
    # One core given: all of the call is serial by choice, not a cause to name.
    if share is not None and share >= SERIAL_SHARE and figures.cores_given > 1:
        end = figures.serial_at_end_share or 0.0
        if end >= share / 2:
            what = f" ({figures.serial_label})" if figures.serial_label else ""
            causes.append(
                (
                    share,
                    f"serial stretch at the end: 1 core busy for {_percent(end)} of the time{what}",
                )
            )
        else:
            causes.append(
                (share, f"serial stretches: at most 1 core busy for {_percent(share)} of the time")
            )
    share = figures.startup_share
    if share is not None and share >= STARTUP_SHARE:
        causes.append((share, f"start-up: {_percent(share)} of the run starting workers"))
    if causes:
        return max(causes, key=lambda cause: cause[0])[1]  # max keeps the first of a tie
    efficiency = figures.efficiency
    if efficiency is not None and efficiency < LOW_EFFICIENCY and not figures.cpu_rough:
        return f"cores idle: efficiency {_percent(efficiency)}"
    return None
