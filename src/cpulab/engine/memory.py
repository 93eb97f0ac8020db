"""How much memory a run will need, and how much it may use.

Every worker process holds its own copy of the data and its own interpreter, so a run's
memory grows with its workers: M(p) = base + per_worker x p, fitted to the summed PSS
(`Result.memory["total_pss"]`) of the stored results of the same task, scale and
variant on this machine. The memory a run may use is the machine's physical memory or
its cgroup's memory.max, the lower, or less where the user says so (--memory-limit). A
run or sweep predicted to need more is refused on the command line unless
--allow-memory; the app asks first. With no stored result there is no prediction, and
nothing is said.

Standard library and psutil only: the UI process uses this too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psutil

from cpulab.engine.cgroup import memory_max
from cpulab.engine.errors import UsageError
from cpulab.engine.events import Result
from cpulab.engine.machine import machine_facts

if TYPE_CHECKING:  # the runner reads the limit here, and needs no store nor sweep
    from cpulab.engine.spec import RunSpec
    from cpulab.engine.store import ResultStore
    from cpulab.engine.sweep import SweepPlan

ALLOW_FLAG = "--allow-memory"
LIMIT_OPTION = "--memory-limit"
LIFTED_BY = f"({ALLOW_FLAG} lifts this limit)"
# Backends whose n_jobs are worker processes, each with its own copy of the data.
PROCESS_BACKENDS = ("loky", "multiprocessing")
MODEL_RESULTS = 200  # the newest stored results a model is fitted from: bounded work
UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
SIZE = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([KMGT]?)(?:I?B)?", re.IGNORECASE)


@dataclass(frozen=True)
class MemoryLimit:
    """The memory a run may use, in bytes, and where that figure comes from."""

    bytes: int
    source: str  # "physical memory", "the cgroup limit of /sys/fs/cgroup/...", LIMIT_OPTION

    def sentence(self) -> str:
        """ "this machine lets a run use 23.4 GiB" (or the option's words)."""
        if self.source == LIMIT_OPTION:
            return f"{LIMIT_OPTION} lets a run use {size_text(self.bytes)}"
        return f"this machine lets a run use {size_text(self.bytes)} ({self.source})"


def memory_limit() -> tuple[int, str]:
    """What a run on this machine may use: physical memory, or the cgroup's memory.max
    where that is lower; in bytes, with where the figure comes from."""
    physical = psutil.virtual_memory().total
    cgroup = memory_max()
    if cgroup is not None and cgroup[0] < physical:
        return cgroup[0], f"the cgroup limit of {cgroup[1]}"
    return physical, "physical memory"


def machine_limit(given: int | None = None) -> MemoryLimit:
    """The limit a check compares with: the machine's, or `given` (--memory-limit) where
    it is lower."""
    limit, source = memory_limit()
    if given is not None and given < limit:
        return MemoryLimit(given, LIMIT_OPTION)
    return MemoryLimit(limit, source)


def parse_size(text: str) -> int:
    """Bytes from "512M", "2G", "1.5GiB" or "1000000" (K, M, G, T are powers of 1024)."""
    match = SIZE.fullmatch(text.strip())
    if match is None:
        raise UsageError(
            f"cannot read memory size {text!r}: use bytes, or a number with K, M, G or T "
            "(such as 512M or 2G)"
        )
    size = int(float(match[1]) * UNITS[match[2].upper()])
    if size < 1:
        raise UsageError(f"a memory limit must be more than nothing, not {text!r}")
    return size


def size_text(size: float) -> str:
    """Bytes as people read them: "310 MiB", "3.7 GiB", "12 KiB"."""
    for unit, scale in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(size) >= scale:
            value = size / scale
            return f"{value:.3g} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return f"{size:.0f} B"


def worker_count(eval_jobs: int, backend: str) -> int:
    """Worker processes a split starts: its evaluation n_jobs under a process backend
    (every task's process-based call is its evaluation's), none otherwise: threads share
    the runner's memory, and a cluster's workers are not this machine's."""
    return eval_jobs if backend in PROCESS_BACKENDS and eval_jobs > 1 else 0


def _backend(result: Result) -> str:
    return str(result.options.get("backend") or "loky")


@dataclass(frozen=True)
class MemoryModel:
    """M(p) = base + per_worker x p bytes, p the worker processes."""

    base: float
    per_worker: float
    points: int  # stored results it was fitted from

    def predict(self, workers: int) -> float:
        return self.base + self.per_worker * workers

    def max_workers(self, limit: int) -> int | None:
        """The most workers whose prediction fits `limit`; None where workers add nothing."""
        if self.per_worker <= 0:
            return None
        return max(0, int((limit - self.base) // self.per_worker))

    def to_dict(self, limit: MemoryLimit | None = None) -> dict[str, Any]:
        record: dict[str, Any] = {
            "base": round(self.base),
            "per_worker": round(self.per_worker),
            "results": self.points,
        }
        if limit is not None:
            record.update(limit=limit.bytes, limit_source=limit.source)
            record["max_workers"] = self.max_workers(limit.bytes)
        return record

    @classmethod
    def fit(cls, results: Iterable[Result]) -> MemoryModel | None:
        """Least squares over the results' (workers, summed PSS); None without one that
        read its memory. Where every result has the same worker count, the slope is the
        mean worker's USS and the base what is left of the mean total: the prediction at
        the measured count is then what was measured."""
        points: list[tuple[int, float]] = []
        worker_uss: list[float] = []
        for result in results:
            total = result.memory.get("total_pss")
            if not isinstance(total, int | float) or total <= 0:
                continue
            points.append((worker_count(result.eval, _backend(result)), float(total)))
            worker_uss.extend(result.memory.get("worker_uss") or [])
        if not points:
            return None
        n = len(points)
        mean_p = sum(p for p, _ in points) / n
        mean_m = sum(m for _, m in points) / n
        spread = sum((p - mean_p) ** 2 for p, _ in points)
        slope = sum((p - mean_p) * (m - mean_m) for p, m in points) / spread if spread else 0.0
        if slope <= 0:  # one worker count, or noise outweighing the workers
            slope = sum(worker_uss) / len(worker_uss) if worker_uss and mean_p else 0.0
        return cls(base=max(0.0, mean_m - slope * mean_p), per_worker=slope, points=n)


def model_for(
    store: ResultStore, task: str, scale: str, variant: str, limit: int = MODEL_RESULTS
) -> MemoryModel | None:
    """The model of the newest stored results of this task, scale and variant on this
    machine (its host and CPU); None where there are none with memory read."""
    here = machine_facts()
    machines = store.host_machine_ids(here.get("hostname", ""), here.get("cpu_model", ""))
    if not machines:
        return None
    stored = store.iter_points(
        task, scale=scale, machine_ids=machines, newest_first=True, limit=limit
    )
    return MemoryModel.fit(p.result for p in stored if p.result.variant == variant)


@dataclass(frozen=True)
class MemoryNeed:
    """The largest prediction among the splits about to run, against the limit."""

    task: str
    train: int
    eval: int
    workers: int
    need: float
    model: MemoryModel
    limit: MemoryLimit

    @property
    def over(self) -> bool:
        return self.need > self.limit.bytes

    def sentence(self) -> str:
        """ "cv-eval at 1 x 64 would need about 38.2 GiB (13.1 GiB + 596 MiB per worker x
        64); this machine lets a run use 23.4 GiB (physical memory)"."""
        model = self.model
        how = f"{size_text(model.base)} + {size_text(model.per_worker)} per worker x {self.workers}"
        return (
            f"{self.task} at {self.train} x {self.eval} would need about "
            f"{size_text(self.need)} ({how}); {self.limit.sentence()}"
        )


def splits_of(request: RunSpec | SweepPlan) -> tuple[str, str, str, list[tuple[int, int]]]:
    """The task, scale, variant and (train, eval) splits a run or sweep is about to run."""
    from cpulab.engine.sweep import SweepPlan

    named = request.task.name, request.scale, request.options.variant
    if isinstance(request, SweepPlan):
        return *named, request.splits()
    return *named, [(request.train, request.eval)]


def predicted_need(
    request: RunSpec | SweepPlan, store: ResultStore, limit: MemoryLimit
) -> MemoryNeed | None:
    """The split of `request` predicted to need the most memory; None where nothing is
    stored to predict from."""
    task, scale, variant, splits = splits_of(request)
    model = model_for(store, task, scale, variant)
    if model is None:
        return None
    backend = request.options.backend
    needs = []
    for train, eval_jobs in splits:
        workers = worker_count(eval_jobs, backend)
        needs.append(
            MemoryNeed(task, train, eval_jobs, workers, model.predict(workers), model, limit)
        )
    return max(needs, key=lambda need: need.need)


def check_memory(
    request: RunSpec | SweepPlan, store: ResultStore, limit: MemoryLimit, allow: bool
) -> MemoryNeed | None:
    """Refuse a run or sweep predicted to need more than `limit` unless `allow`: the
    command line's consent, where the app asks. Returns the prediction."""
    need = predicted_need(request, store, limit)
    if need is not None and need.over and not allow:
        raise UsageError(f"{need.sentence()} {LIFTED_BY}")
    return need
