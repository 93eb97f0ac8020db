"""What the parent asks the runner child to do: one point, or a sweep's points, fully
resolved. The runner reads it as one JSON line on its standard input."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from cpulab.engine.backends import DEFAULT_BACKEND, Backend, backend_named
from cpulab.engine.cores import OVERSUBSCRIBE_FLAG, CoreSplit, available_cores, check_core_count
from cpulab.engine.datafile import DataSpec
from cpulab.engine.errors import UsageError
from cpulab.engine.pinning import PIN_NONE, check_pin
from cpulab.engine.tasks import Task, check_scale

# Started with this argument instead of a spec, the runner imports what runs need and then
# reads its spec from stdin: a spare, made ready while nobody waits.
SPARE_ARGUMENT = "--wait"
MAX_RUNS = 10_000  # of repeats, and of warm-ups: a typo guard
# How the command line names the permission a refused count needs: the cap's words, so that
# counts past the cores and past the cap name the one option alike.
LIFTED_BY = f"({OVERSUBSCRIBE_FLAG} lifts this limit)"


@dataclass(frozen=True)
class RunOptions:
    """How a task runs beyond its cores: the user's data, the backend, inner threads."""

    data: DataSpec | None = None  # the user's data, for tasks that take it
    backend: str = DEFAULT_BACKEND  # joblib backend of the measured call: see backends.py
    cluster: str | None = None  # where a cluster backend runs: "tcp://host:port", "local:N"
    # A cluster-size sweep's (--workers): each point's core count (train x eval) is how
    # many of the cluster's workers its calls may use. False: every worker, at any split.
    cluster_workers: bool = False
    blas_threads: int | None = None  # BLAS/OpenMP threads per process; None: libraries' own
    # --pin: the CPUs each point runs on, chosen from the topology (see pinning.py)
    pin: str = PIN_NONE
    # --allow-oversubscribe: more workers or threads than CORES_PER_CORE per core, and on
    # the command line a split or sweep beyond the available cores (the app asks instead).
    allow_oversubscribe: bool = False

    @property
    def backend_spec(self) -> Backend:
        """The description of the backend; UsageError for a name that is none."""
        return backend_named(self.backend)

    @property
    def variant(self) -> str:
        """What sets a run apart from the task as built in: its data, backend, threads.
        Empty for the task as it ships; results of different variants never mix."""
        parts = []
        if self.data is not None:
            parts.append(self.data.label)
        if backend := self.backend_spec.variant(self):
            parts.append(backend)
        if self.blas_threads is not None:
            parts.append(f"BLAS {self.blas_threads}")
        if self.pin != PIN_NONE:
            parts.append(f"pinned {self.pin}")
        return " ".join(parts)

    def check(self) -> RunOptions:
        """Refuse a backend, cluster or thread count that cannot run; returns itself."""
        backend = self.backend_spec
        check_pin(self.pin)
        if self.pin != PIN_NONE and backend.takes_cluster:
            raise UsageError(
                f"--pin {self.pin} places work on this machine's CPUs: it does not apply to a "
                "Dask cluster"
            )
        if self.blas_threads is not None:
            if self.blas_threads < 1:
                raise UsageError(f"BLAS threads must be at least 1, not {self.blas_threads}")
            check_core_count(
                self.blas_threads,
                available_cores(),
                f"{self.blas_threads} BLAS threads",
                allow_oversubscribe=self.allow_oversubscribe,
            )
        backend.check(self)
        return self

    def to_dict(self) -> dict[str, Any]:
        """What the run used; the permission to oversubscribe is checked in the parent
        and is no part of a result."""
        data = asdict(self)
        del data["allow_oversubscribe"]
        if not data["cluster_workers"]:  # results from before cluster-size sweeps lack it
            del data["cluster_workers"]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> RunOptions:
        data = dict(data)
        if data.get("data") is not None:
            source = data["data"]
            data["data"] = DataSpec(**{**source, "drop": tuple(source.get("drop", ()))})
        return cls(**data)


def cores_text(count: int) -> str:
    return "1 core" if count == 1 else f"{count} cores"


def oversubscription(split: CoreSplit, options: RunOptions) -> str | None:
    """A split beyond this machine's available cores, in words ("4 evaluation cores is more
    than the 2 cores available"); None within them, or where the backend's cores are a
    cluster's. Its result is flagged oversubscribed: the command line wants
    OVERSUBSCRIBE_FLAG for it, the app asks first."""
    if not split.oversubscribed or options.backend_spec.cores_note is not None:
        return None
    if split.eval == 1:
        asked = f"{split.train} training cores"
    elif split.train == 1:
        asked = f"{split.eval} evaluation cores"
    else:
        asked = f"{split.train} x {split.eval} = {split.total} cores"
    return f"{asked} is more than the {cores_text(split.available)} available"


@dataclass(frozen=True)
class RunSpec:
    """One point, checked: the task, its cores and how often to run it."""

    task: Task
    scale: str
    train: int
    eval: int
    available: int
    repeats: int = 1
    warmup: int = 0
    options: RunOptions = RunOptions()

    @classmethod
    def for_task(
        cls,
        task: Task,
        split: CoreSplit,
        scale: str = "small",
        repeats: int = 1,
        warmup: int = 0,
        options: RunOptions = RunOptions(),
        catalogue: Mapping[str, Task] | None = None,
    ) -> RunSpec:
        """Validate everything the user chose; what comes back is safe to run. The
        `catalogue` the task comes from names the tasks that take --data, where one is
        refused."""
        check_scale(scale)
        task.check_split(split)
        split.check_limits(options.allow_oversubscribe)
        task.check_data(options.data, catalogue)
        options.check().backend_spec.check_split(split, options)
        if repeats < 1:
            raise UsageError(f"repeats must be at least 1, not {repeats}")
        if repeats > MAX_RUNS:
            raise UsageError(f"repeats must be at most {MAX_RUNS}, not {repeats}")
        if warmup < 0:
            raise UsageError(f"warm-up runs cannot be negative ({warmup})")
        if warmup > MAX_RUNS:
            raise UsageError(f"warm-up runs must be at most {MAX_RUNS}, not {warmup}")
        return cls(
            task=task,
            scale=scale,
            train=split.train,
            eval=split.eval,
            available=split.available,
            repeats=repeats,
            warmup=warmup,
            options=options,
        )

    def check_oversubscription(self) -> None:
        """Refuse a run beyond the available cores unless OVERSUBSCRIBE_FLAG allows it: the
        command line's consent, where the app asks (RunSpec.for_task checks the cap)."""
        split = CoreSplit(self.train, self.eval, self.available)
        said = oversubscription(split, self.options)
        if said is not None and not self.options.allow_oversubscribe:
            raise UsageError(f"{said}: the run would be oversubscribed {LIFTED_BY}")

    @property
    def label(self) -> str:
        """The point as people name it: "cv-eval 1 x 2"."""
        return f"{self.task.name} {self.train} x {self.eval}"

    def to_dict(self) -> dict[str, Any]:
        return {
            **{f.name: getattr(self, f.name) for f in fields(self)},
            "task": self.task.to_dict(),
            "options": self.options.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict) -> RunSpec:
        return cls(
            **{
                **data,
                "task": Task.from_dict(data["task"]),
                "options": RunOptions.from_dict(data.get("options", {})),
            }
        )


@dataclass(frozen=True)
class SweepSpec:
    """Several points of one task run by one child, their repeats interleaved."""

    points: tuple[RunSpec, ...]
    strategy: str
    cores: tuple[int, ...]

    def to_dict(self) -> dict:
        return {
            "points": [point.to_dict() for point in self.points],
            "strategy": self.strategy,
            "cores": list(self.cores),
        }

    @classmethod
    def from_dict(cls, data: dict) -> SweepSpec:
        return cls(
            points=tuple(RunSpec.from_dict(p) for p in data["points"]),
            strategy=data["strategy"],
            cores=tuple(data["cores"]),
        )


def plan_from_dict(data: dict) -> tuple[RunSpec, ...]:
    """The points a runner child was asked for: a sweep's, or a single run's one."""
    if "points" in data:
        return SweepSpec.from_dict(data).points
    return (RunSpec.from_dict(data),)
