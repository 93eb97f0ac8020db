"""How the measured call runs under each backend, in the runner child: joblib's backend,
the BLAS/OpenMP threads of every process, and a Dask cluster. What each backend is and
accepts is described in `backends.py`, which hands the runner its execution.

loky, joblib's default, is left unnamed so scikit-learn's own preferences hold: a forest
asks for threads (`prefer="threads"`), and joblib honours that only while no backend is
named. Under `parallel_config(backend=...)`, loky included, the named backend runs every
call, a forest's trees too; but Dask's, which runs them inside the worker, and a forest the
runner fits after the measured call's first top-level call (a search's refit) in the
runner, as without Dask (`daskjobs`).

joblib, threadpoolctl and distributed load inside the functions that use them.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from cpulab.engine.backends import DaskTarget
from cpulab.engine.errors import UsageError
from cpulab.engine.events import Event, WorkerLoad
from cpulab.engine.machine import thread_pools

if TYPE_CHECKING:
    from cpulab.engine.spec import RunSpec

# The variables loky hands to the workers it starts (its own default for each is
# cores // n_jobs) and Dask's nanny to its workers (its default is 1). Set before any
# library loads, they give the runner and every worker process the same limit.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
# Seconds to reach a Dask scheduler: a wrong or black-holed address fails well within 10 s
# of the run's start, imports included.
CONNECT_TIMEOUT = 3
# Seconds for the whole connection, handshake included; a second more than distributed's
# own connect timeout, so that one reports an address nothing listens at.
ANSWER_DEADLINE = CONNECT_TIMEOUT + 1
WORKER_LOAD_INTERVAL = 0.5  # seconds between WorkerLoad events; workers report each 0.5 s

T = TypeVar("T")


def warm_worker(modules: tuple[str, ...], blas_threads: int | None) -> dict[str, Any]:
    """In a worker: import what the jobs need, apply the thread limit, report the pools."""
    for name in modules:
        importlib.import_module(name)
    # What the first measured task would otherwise import and patch inside the timed call.
    from cpulab.engine import taskstream

    taskstream.install()
    if blas_threads is not None:
        from threadpoolctl import threadpool_limits

        threadpool_limits(blas_threads)  # never restored: it holds for the worker's life
    time.sleep(0.05)  # hold this job briefly so the next one lands on another worker
    return {"pid": os.getpid(), "pools": thread_pools()}


def worker_records(reports: dict[Any, dict[str, Any]]) -> list[dict[str, Any]]:
    """Every worker's pools in one list, each marked with its worker: pid or Dask address."""
    return [
        {"worker": worker, **pool} for worker, report in reports.items() for pool in report["pools"]
    ]


def ask_workers(
    jobs: int, modules: tuple[str, ...], blas_threads: int | None
) -> dict[int, dict[str, Any]]:
    """Run `warm_worker` in each worker of a joblib pool of `jobs`; reports by pid."""
    from joblib import Parallel, delayed

    reports: dict[int, dict[str, Any]] = {}
    for _ in range(3):
        calls = (delayed(warm_worker)(modules, blas_threads) for _ in range(jobs))
        reports.update((report["pid"], report) for report in Parallel(n_jobs=jobs)(calls))
        if len(reports) >= jobs:
            break
    return reports


def worker_loads(workers: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """What a WorkerLoad event says of each worker, from the scheduler's worker info."""
    loads = []
    for address, info in sorted(workers.items()):
        metrics = info.get("metrics", {})
        loads.append(
            {
                "name": str(info.get("name", address)),
                "address": address,
                "host": info.get("host", ""),
                "cpu": float(metrics.get("cpu", 0.0)),
                "threads": int(info.get("nthreads", 0)),
                "memory": int(metrics.get("memory", 0)),
                "memory_limit": int(info.get("memory_limit") or 0),
            }
        )
    return loads


def within(seconds: float, make: Callable[[], T]) -> T:
    """`make()`, or TimeoutError once `seconds` have passed. distributed bounds the TCP
    connect but not its handshake, which waits for ever on a peer that accepts and never
    answers; the call is left running in a daemon thread, which the runner's exit ends."""
    outcome: dict[str, Any] = {}

    def call() -> None:
        try:
            outcome["value"] = make()
        except BaseException as exc:  # handed to the waiting thread, raised there
            outcome["error"] = exc

    thread = threading.Thread(target=call, name="deadline", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise TimeoutError(f"no answer within {seconds} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


class JoblibExecution:
    """One of joblib's own backends, on this machine."""

    def __init__(self, backend: str, blas_threads: int | None):
        self.backend = backend
        self.blas_threads = blas_threads
        self.pool_jobs = 1  # the loky pool joblib keeps between calls, 1 when none
        # As the first measured call found them: reading them takes milliseconds, which a
        # sweep of short calls would pay at every call, and the limits stay the same.
        self.runner_pools: list[dict[str, Any]] = []
        self._pools_read = False
        self._worker_pools: dict[int, list[dict[str, Any]]] = {}  # by the pool's n_jobs

    def limit_threads(self) -> None:
        """Call before any library loads: then the runner's pools and every worker's start
        at the limit, threads started by the threading backend included."""
        if self.blas_threads is not None:
            os.environ.update(dict.fromkeys(THREAD_VARIABLES, str(self.blas_threads)))

    def workers_due(self, jobs: int) -> bool:
        """Whether to start workers before a call with n_jobs=jobs. Only loky keeps its pool
        for the next call: multiprocessing starts a new pool in every call, and threading
        has no processes to start."""
        return self.backend == "loky" and jobs > 1 and jobs != self.pool_jobs

    def start_workers(self, jobs: int, modules: tuple[str, ...]) -> None:
        """Start the pool the measured call will use and import into it; loky keeps it, so
        the measured call finds its workers ready."""
        with self.configured():
            self._worker_pools[jobs] = worker_records(ask_workers(jobs, modules, self.blas_threads))
        self.pool_jobs = jobs

    def worker_pools(self, jobs: int) -> list[dict[str, Any]]:
        """The pools of the processes a call with n_jobs=jobs runs its jobs in; none where
        it runs them in the runner."""
        if jobs <= 1 or self.backend == "threading":
            return []
        if jobs not in self._worker_pools:  # multiprocessing: ask a pool like the call's own
            with self.configured():
                self._worker_pools[jobs] = worker_records(ask_workers(jobs, (), self.blas_threads))
        return self._worker_pools[jobs]

    def configured(self, spec: RunSpec | None = None) -> contextlib.AbstractContextManager:
        """joblib's configuration for the run's calls (for `spec`'s measured call where
        given): nothing for loky, joblib's default."""
        if self.backend == "loky":
            return contextlib.nullcontext()
        from joblib import parallel_config

        return parallel_config(backend=self.backend)

    @contextlib.contextmanager
    def measured(self, spec: RunSpec | None = None) -> Iterator[None]:
        """Around each measured call (of `spec`'s point): the runner's thread limit and
        the backend."""
        with contextlib.ExitStack() as stack:
            if self.blas_threads is not None:
                from threadpoolctl import threadpool_limits

                stack.enter_context(threadpool_limits(self.blas_threads))
            if not self._pools_read:
                self.runner_pools, self._pools_read = thread_pools(), True
            stack.enter_context(self.configured(spec))
            yield

    def facts(self, spec: RunSpec | None = None) -> dict[str, Any]:
        """What a result's details (of `spec`'s point) add about where it ran."""
        return {}

    def close(self) -> None:
        """loky's workers are left to the runner's exit, which ends its whole tree."""


class DaskExecution(JoblibExecution):
    """A Dask cluster: a running scheduler's, or a LocalCluster started here (its worker
    processes are the runner's children, so they end with its tree).

    joblib ignores n_jobs on Dask: the measured call's first top-level joblib call (the
    evaluation's, or rf-train's forest) spreads over all the cluster's threads, or a
    cluster-size sweep's point's workers; the calls nested in its tasks (a fold's forest)
    run inside the worker, in threads as their n_jobs says. A top-level call after it (a
    search's refit) runs in the runner the same way: sent to the cluster, its trees were
    tiny tasks that cost more than fitting them here (see `daskjobs`).
    """

    def __init__(self, target: DaskTarget, blas_threads: int | None, emit: Callable[[Event], None]):
        super().__init__("dask", blas_threads)
        self.target = target
        self.emit = emit
        self.client: Any = None
        self.cluster: Any = None
        self.cluster_facts: dict[str, Any] = {}
        self.cluster_pools: list[dict[str, Any]] = []
        # Each worker's threads, by address in sorted order: the order points take them.
        self.threads_of: dict[str, int] = {}
        self._stop = threading.Event()
        self._monitor = threading.Thread(target=self._watch, name="worker-load", daemon=True)

    def workers_due(self, jobs: int) -> bool:
        return self.client is None  # the same cluster serves every call, warmed once

    def start_workers(self, jobs: int, modules: tuple[str, ...]) -> None:
        self.client = self._connect()
        workers = self.client.scheduler_info(n_workers=-1)["workers"]
        if not workers:
            raise UsageError(f"the Dask scheduler at {self.target.address} has no workers")
        try:
            reports = self.client.run(warm_worker, modules, self.blas_threads)
        except ModuleNotFoundError as exc:
            raise UsageError(
                f"the Dask workers cannot import {exc.name}: install it where they run"
            ) from None
        self.cluster_pools = worker_records(reports)
        self.threads_of = {address: info["nthreads"] for address, info in sorted(workers.items())}
        threads = list(self.threads_of.values())
        self.cluster_facts = {
            "address": self.client.scheduler.address,
            "local": self.cluster is not None,
            "workers": len(threads),
            "threads_per_worker": threads,
            "threads": sum(threads),
        }
        self._monitor.start()

    def _connect(self) -> Any:
        from distributed import Client, LocalCluster

        if self.target.local_workers is not None:
            import dask

            # A worker's profiler samples the stack of every thread each 10 ms, with the
            # GIL: the cluster cpulab starts for itself measures the workload without it.
            # Each nanny hands its worker the configuration it was made under.
            with dask.config.set({"distributed.worker.profile.enabled": False}):
                self.cluster = LocalCluster(
                    n_workers=self.target.local_workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                )
            return Client(self.cluster, timeout=CONNECT_TIMEOUT)
        address = self.target.address
        try:
            return within(ANSWER_DEADLINE, lambda: Client(address, timeout=CONNECT_TIMEOUT))
        except TimeoutError:  # before OSError, which it is: something listens, and is silent
            raise UsageError(
                f"cannot reach the Dask scheduler at {address}: it took the connection but "
                f"did not answer within {ANSWER_DEADLINE} s"
            ) from None
        except OSError as exc:  # refused, unknown host, or no answer in time
            raise UsageError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        except Exception:  # something answered, but not in Dask's protocol
            raise UsageError(f"what answers at {address} is not a Dask scheduler") from None

    def _watch(self) -> None:
        """Each worker's load as the scheduler last heard it, while the cluster is in use."""
        while True:
            try:
                workers = self.client.scheduler_info(n_workers=-1)["workers"]
            except Exception:  # a lost scheduler fails the measured call, which says why
                return
            self.emit(WorkerLoad(t=time.time(), workers=worker_loads(workers)))
            if self._stop.wait(WORKER_LOAD_INTERVAL):
                return

    def worker_pools(self, jobs: int) -> list[dict[str, Any]]:
        return self.cluster_pools

    def point_workers(self, spec: RunSpec | None) -> list[str] | None:
        """The workers a point's calls may use: in a cluster-size sweep as many as its
        core count, the first by address; None: every worker."""
        if spec is None or not spec.options.cluster_workers:
            return None
        count = spec.train * spec.eval
        if count > len(self.threads_of):
            raise UsageError(
                f"the point of {count} workers needs more than the {len(self.threads_of)} "
                f"of the Dask cluster at {self.cluster_facts['address']}"
            )
        return list(self.threads_of)[:count]

    def configured(self, spec: RunSpec | None = None) -> contextlib.AbstractContextManager:
        """A backend of its own for each measured call: it sends that call's first
        top-level joblib call to the cluster and keeps later ones in the runner."""
        from joblib import parallel_config

        from cpulab.engine.daskjobs import ClusterBackend

        workers = self.point_workers(spec)
        threads = None if workers is None else sum(self.threads_of[w] for w in workers)
        return parallel_config(backend=ClusterBackend(self.client, workers, threads))

    def facts(self, spec: RunSpec | None = None) -> dict[str, Any]:
        if not self.cluster_facts:
            return {}
        workers = self.point_workers(spec)
        if workers is None:
            return {"cluster": self.cluster_facts}
        # The point's cores: its workers' threads, which its core count (train x eval)
        # counts in workers.
        threads = sum(self.threads_of[worker] for worker in workers)
        used = {"used_workers": len(workers), "used_threads": threads}
        return {"cluster": {**self.cluster_facts, **used}}

    def close(self) -> None:
        self._stop.set()
        if self._monitor.is_alive():
            self._monitor.join()
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
