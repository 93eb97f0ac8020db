"""What the parent asks the runner child to do: one point, fully resolved."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from cpulab.engine.cores import CoreSplit
from cpulab.engine.datafile import DataSpec
from cpulab.engine.errors import UsageError
from cpulab.engine.tasks import Task, check_scale


@dataclass(frozen=True)
class RunOptions:
    """How a task runs beyond its cores: the user's data, the backend, inner threads."""

    data: DataSpec | None = None  # the user's data, for tasks that take it
    backend: str = "loky"  # joblib backend of the measured call
    dask: str | None = None  # scheduler address or "local:N"; the backend is then "dask"
    blas_threads: int | None = None  # BLAS/OpenMP threads per process; None: libraries' own

    @property
    def variant(self) -> str:
        """What sets a run apart from the task as built in: its data, backend, threads.
        Empty for the task as it ships; results of different variants never mix."""
        parts = []
        if self.data is not None:
            parts.append(self.data.label)
        if self.dask is not None:
            parts.append(f"dask {self.dask}")
        elif self.backend != "loky":
            parts.append(self.backend)
        if self.blas_threads is not None:
            parts.append(f"BLAS {self.blas_threads}")
        return " ".join(parts)

    @classmethod
    def from_dict(cls, data: dict) -> RunOptions:
        data = dict(data)
        if data.get("data") is not None:
            source = data["data"]
            data["data"] = DataSpec(**{**source, "drop": tuple(source.get("drop", ()))})
        return cls(**data)


@dataclass(frozen=True)
class RunSpec:
    task: str
    title: str
    metric: str
    builder: str  # "module:function" the child imports to build the workload
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
    ) -> RunSpec:
        """Validate everything the user chose; what comes back is safe to run."""
        check_scale(scale)
        task.check_split(split)
        if repeats < 1:
            raise UsageError(f"repeats must be at least 1, not {repeats}")
        if warmup < 0:
            raise UsageError(f"warm-up runs cannot be negative ({warmup})")
        return cls(
            task=task.name,
            title=task.title,
            metric=task.metric,
            builder=task.builder,
            scale=scale,
            train=split.train,
            eval=split.eval,
            available=split.available,
            repeats=repeats,
            warmup=warmup,
            options=options,
        )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RunSpec:
        options = RunOptions.from_dict(data.get("options", {}))
        return cls(**{**data, "options": options})


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
