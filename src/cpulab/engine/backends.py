"""One description per joblib backend: what it is called, what it accepts, how a run
under it is labelled, whether a sweep can use it, which live panel the app shows for it,
and how the runner executes under it.

Adding a backend means one description here and its execution in `execution.py`; the
CLI, the app, the spec and the runner ask the description. This module is light: the
parent process (the UI included) imports it, and only `Backend.execution` reaches for
the runner-side code, when the runner calls it.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cpulab.engine.cores import CoreSplit, available_cores, check_core_count, digits_value
from cpulab.engine.errors import UsageError

if TYPE_CHECKING:
    from cpulab.engine.events import Event
    from cpulab.engine.execution import JoblibExecution
    from cpulab.engine.spec import RunOptions

DEFAULT_BACKEND = "loky"  # what scikit-learn uses when nothing else is asked for
# tcp://host:port or host:port; an IPv6 host in brackets.
DASK_ADDRESS = re.compile(
    r"(?:tcp://)?(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(?P<port>[0-9]{1,5})"
)
MAX_LOCAL_WORKERS = 1024  # a typo guard: each worker is a process
# Seconds a runner that reported its last result gets to exit by itself, closing what it
# started, before the supervisor ends its tree. A local Dask cluster's nannies, scheduler
# and workers take 0.5 s to close on an idle 2-core machine and 1.4 to 2 s beside three
# busy processes; loky's workers are ended with the runner's tree, so it exits at once.
EXIT_WAIT = 2.0
CLUSTER_EXIT_WAIT = 10.0


@dataclass(frozen=True)
class Backend:
    """One of joblib's own backends, running on this machine's cores."""

    name: str
    summary: str  # one phrase for help texts
    # "cores": the app watches this machine's cores; "workers": a cluster's workers.
    live_panel: str = "cores"
    takes_cluster: bool = False  # whether it runs on a cluster named by an address
    no_sweeps: str | None = None  # why a sweep cannot use it; None: sweeps are allowed
    # Said beside the split instead of the oversubscription gauge, where the split's
    # cores are not this machine's cores.
    cores_note: str | None = None

    @property
    def sweeps(self) -> bool:
        return self.no_sweeps is None

    def variant(self, options: RunOptions) -> str:
        """How results under this backend are told apart: empty for the default."""
        return "" if self.name == DEFAULT_BACKEND else self.name

    def exit_wait(self, options: RunOptions) -> float:
        """Seconds a runner that reported its last result gets to exit by itself."""
        return EXIT_WAIT

    def check(self, options: RunOptions) -> None:
        """Refuse options this backend cannot run with."""
        if options.cluster is not None:
            raise UsageError(
                f"--dask runs on joblib's dask backend, not {self.name}: leave --backend out"
            )

    def check_split(self, split: CoreSplit, options: RunOptions | None = None) -> None:
        """Refuse a split this backend would not honour (under `options` where given)."""

    def execution(self, options: RunOptions, emit: Callable[[Event], None]) -> JoblibExecution:
        """How the runner executes measured calls under this backend (runner side)."""
        from cpulab.engine.execution import JoblibExecution

        return JoblibExecution(self.name, options.blas_threads)


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
            workers = digits_value(count)
            if not 1 <= workers <= MAX_LOCAL_WORKERS:
                raise UsageError(
                    f"a local Dask cluster takes 1 to {MAX_LOCAL_WORKERS} workers, not {workers}"
                )
            return cls(local_workers=workers)
        match = DASK_ADDRESS.fullmatch(text)
        if match is None or not 1 <= int(match["port"]) <= 65535:
            raise UsageError(
                f"cannot read Dask address {text!r}: use tcp://host:port, host:port or local:N"
            )
        return cls(address=f"tcp://{match['host']}:{match['port']}")


@dataclass(frozen=True)
class DaskBackend(Backend):
    """A Dask cluster: joblib ignores n_jobs there, and the cluster's workers are the cores."""

    def variant(self, options: RunOptions) -> str:
        # A cluster-size sweep's core counts are workers, a plain run's split is not.
        return f"dask {options.cluster}" + (" by workers" if options.cluster_workers else "")

    def exit_wait(self, options: RunOptions) -> float:
        local = options.cluster is not None and DaskTarget.parse(options.cluster).local_workers
        return CLUSTER_EXIT_WAIT if local else EXIT_WAIT

    def check(self, options: RunOptions) -> None:
        if options.cluster is None:
            raise UsageError("the dask backend needs a cluster: --dask ADDRESS or local:N")
        workers = DaskTarget.parse(options.cluster).local_workers
        if workers is not None:
            # Each worker is a process with its own thread: one per core is the most.
            check_core_count(
                workers,
                available_cores(),
                f"a local Dask cluster of {workers} workers",
                per_core=1,
                allow_oversubscribe=options.allow_oversubscribe,
            )
        # Only the runner imports distributed; here it is enough to know it is there.
        if importlib.util.find_spec("distributed") is None:
            raise UsageError("--dask needs Dask's distributed: pip install 'cpulab[dask]'")

    def check_split(self, split: CoreSplit, options: RunOptions | None = None) -> None:
        if options is not None and options.cluster_workers:
            # The outer call's knob counts the workers, the other stays at 1.
            if min(split.train, split.eval) != 1:
                raise UsageError(
                    "a cluster-size sweep varies the number of workers only: its points "
                    "are splits of 1 x workers (workers x 1 for a training-only task)"
                )
            assert options.cluster is not None  # check() made sure
            local = DaskTarget.parse(options.cluster).local_workers
            if local is not None and split.total > local:
                raise UsageError(
                    f"{options.cluster} starts {local} workers: a point of {split.total} "
                    "workers needs more"
                )
            return
        if split.eval != 1:
            raise UsageError(
                "joblib ignores n_jobs on Dask and spreads the work over every thread of the "
                "cluster: leave --eval at 1"
            )

    def execution(self, options: RunOptions, emit: Callable[[Event], None]) -> JoblibExecution:
        from cpulab.engine.execution import DaskExecution

        assert options.cluster is not None  # check() made sure
        return DaskExecution(DaskTarget.parse(options.cluster), options.blas_threads, emit)


BACKENDS: dict[str, Backend] = {
    backend.name: backend
    for backend in (
        Backend("loky", "process workers, as scikit-learn chooses (the default)"),
        Backend("threading", "threads in the runner process"),
        Backend("multiprocessing", "a new process pool for every call"),
        DaskBackend(
            "dask",
            "a Dask cluster, named with --dask",
            live_panel="workers",
            takes_cluster=True,
            # joblib ignores n_jobs on Dask: a sweep's core counts would all measure the
            # same cluster. A cluster-size sweep (RunOptions.cluster_workers) is allowed.
            no_sweeps=(
                "a sweep cannot run on Dask: joblib ignores n_jobs there, so its core counts "
                "would change nothing; sweep the cluster's size with --workers LIST (such "
                "as 1,2,4)"
            ),
            cores_note="Dask runs the evaluation: joblib ignores n_jobs, the cluster's "
            "workers are the cores.",
        ),
    )
}


def backend_named(name: str) -> Backend:
    try:
        return BACKENDS[name]
    except KeyError:
        local = [b.name for b in BACKENDS.values() if not b.takes_cluster]
        raise UsageError(
            f"unknown backend {name!r}: choose {', '.join(local)} (Dask runs with --dask)"
        ) from None


def resolve_backend(name: str | None, dask: str | None) -> str:
    """The backend a run named, else "dask" where --dask names a cluster, else the default."""
    if name is not None:
        return name
    return "dask" if dask is not None else DEFAULT_BACKEND
