"""What the parent asks the runner child to do: one point, fully resolved."""

from __future__ import annotations

import importlib.util
import re
from dataclasses import asdict, dataclass

from cpulab.engine.cores import CoreSplit
from cpulab.engine.datafile import DataSpec
from cpulab.engine.errors import UsageError
from cpulab.engine.tasks import Task, check_scale

BACKENDS = ("loky", "threading", "multiprocessing")  # joblib's own; "dask" comes with --dask
# tcp://host:port or host:port; an IPv6 host in brackets.
DASK_ADDRESS = re.compile(
    r"(?:tcp://)?(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(?P<port>[0-9]{1,5})"
)
MAX_LOCAL_WORKERS = 1024  # a typo guard: each worker is a process
# joblib ignores n_jobs on Dask: a sweep's core counts would all measure the same cluster.
NO_DASK_SWEEPS = (
    "a sweep cannot run on Dask: joblib ignores n_jobs there, so its core counts would "
    "change nothing; use cpulab run --dask, once per cluster size"
)


@dataclass(frozen=True)
class DaskTarget:
    """What --dask names: a running scheduler, or a local cluster of one-thread workers."""

    address: str | None = None  # tcp://host:port of a running scheduler
    local_workers: int | None = None  # local:N: start N worker processes in the runner

    @classmethod
    def parse(cls, text: str) -> DaskTarget:
        text = text.strip()
        if text.lower().startswith("local:"):
            count = text[len("local:") :]
            if not re.fullmatch(r"[0-9]+", count):
                raise UsageError(
                    f"cannot read {text!r}: local:N takes a number of workers, such as local:4"
                )
            if not 1 <= int(count) <= MAX_LOCAL_WORKERS:
                raise UsageError(
                    f"a local Dask cluster takes 1 to {MAX_LOCAL_WORKERS} workers, not {int(count)}"
                )
            return cls(local_workers=int(count))
        match = DASK_ADDRESS.fullmatch(text)
        if match is None or not 1 <= int(match["port"]) <= 65535:
            raise UsageError(
                f"cannot read Dask address {text!r}: use tcp://host:port, host:port or local:N"
            )
        return cls(address=f"tcp://{match['host']}:{match['port']}")


# Started with this argument instead of a spec, the runner imports what runs need and then
# reads its spec from stdin: a spare, made ready while nobody waits.
SPARE_ARGUMENT = "--wait"


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

    def check(self) -> RunOptions:
        """Refuse a backend, cluster or thread count that cannot run; returns itself."""
        if self.backend not in (*BACKENDS, "dask"):
            raise UsageError(
                f"unknown backend {self.backend!r}: choose {', '.join(BACKENDS)} "
                "(Dask runs with --dask)"
            )
        if self.blas_threads is not None and self.blas_threads < 1:
            raise UsageError(f"BLAS threads must be at least 1, not {self.blas_threads}")
        if self.dask is None:
            if self.backend == "dask":
                raise UsageError("the dask backend needs a cluster: --dask ADDRESS or local:N")
            return self
        if self.backend not in ("loky", "dask"):
            raise UsageError(
                f"--dask runs on joblib's dask backend, not {self.backend}: leave --backend out"
            )
        DaskTarget.parse(self.dask)
        # Only the runner imports distributed; here it is enough to know it is there.
        if importlib.util.find_spec("distributed") is None:
            raise UsageError("--dask needs Dask's distributed: pip install 'cpulab[dask]'")
        return self

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
        task.check_data(options.data)
        options.check()
        if options.dask is not None and split.eval != 1:
            raise UsageError(
                "joblib ignores n_jobs on Dask and spreads the work over every thread of the "
                "cluster: leave --eval at 1"
            )
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

    def __post_init__(self) -> None:
        if any(point.options.dask is not None for point in self.points):
            raise UsageError(NO_DASK_SWEEPS)

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
