"""joblib's Dask backend as cpulab runs it: only the measured call's own tasks go to the
cluster, the joblib calls nested in a task run inside the worker that runs it, and a
point of a cluster-size sweep keeps its tasks on some of the workers.

joblib's backend runs every batch it submits inside `parallel_config(backend="dask")`
(`Batch` in joblib/_dask.py), so a forest fitted in a cross-validation fold sends each of
its trees back to the scheduler as a task of its own, and calls the worker's client to
wait for them: 30 folds of 100 trees make hundreds of small tasks, and the cluster's time
goes to scheduling them and moving their data. Here each call of a batch is wrapped in
`InWorker`, which opens `parallel_config(backend="threading")` inside joblib's: the
innermost configuration wins, so a nested call runs in threads of the worker's own
process, as many as its n_jobs says (the training knob), or one after another at 1.
Threads, not loky: a worker's task stands for one of the cluster's threads, and loky
would start a pool of processes in every worker beside the cluster's own.

Only the measured call's first top-level joblib call goes to the cluster: the one that
stands for the evaluation (a cross-validation's folds, a search's fits, rf-train's trees).
A top-level call the runner makes after it is the estimator's own, at the training knob:
a search's refit of the best forest, which under the Dask backend sent its 100 trees to
the scheduler as tasks (joblib ignores its n_jobs=1 there) and took longer than fitting
them in the runner. `ClusterBackend` hands such a call back to joblib's threading backend
(`FallbackToBackend`), which runs it as a run without Dask would: in threads as its n_jobs
says, or one after another at 1.

Imported by the runner when it runs on Dask, and by the workers to unpickle `InWorker`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

from joblib import parallel_config
from joblib._dask import DaskDistributedBackend
from joblib._parallel_backends import FallbackToBackend, ThreadingBackend


class InWorker:
    """One call of a submitted batch, made with joblib's threading backend for the calls
    nested in it. Pickled to the worker by reference to this module."""

    def __init__(self, func: Callable[..., Any]):
        self.func = func
        # joblib names the Dask task after it (dask's funcname): the wrapped call's name,
        # which the timeline reads back (taskstream.dask_spans).
        self.__name__ = getattr(func, "__name__", type(func).__name__)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with parallel_config(backend="threading"):
            return self.func(*args, **kwargs)


class ClusterBackend(DaskDistributedBackend):
    """joblib's Dask backend with nested calls kept in the worker; with `workers`, the
    call's tasks run on those workers only, and joblib sizes its batches to their threads
    (`threads`) instead of the whole cluster's. Made in the runner, one per measured call:
    its first top-level joblib call runs on the cluster, later ones in the runner."""

    def __init__(
        self, client: Any, workers: Sequence[str] | None = None, threads: int | None = None
    ):
        restriction: dict[str, Any] = (
            {} if workers is None else {"workers": list(workers), "allow_other_workers": False}
        )
        super().__init__(client=client, **restriction)
        self.threads = threads
        # Set once the measured call's first top-level call has ended (joblib terminates
        # the backend at the end of each call, or of a `with Parallel(...)` block such as
        # a search's): whatever comes after it is the estimator's own work, not the
        # evaluation's.
        self.evaluated = False

    def configure(self, n_jobs: int = 1, parallel: Any = None, **backend_args: Any) -> int:
        if self.evaluated:
            # joblib's own way for a backend to pass a call on: Parallel configures the
            # one raised instead, which falls back to sequential itself at n_jobs=1.
            raise FallbackToBackend(ThreadingBackend(nesting_level=self.nesting_level))
        return int(super().configure(n_jobs, parallel, **backend_args))

    def terminate(self) -> None:
        super().terminate()
        self.evaluated = True

    def effective_n_jobs(self, n_jobs: Any) -> int:
        threads = self.threads if self.threads is not None else super().effective_n_jobs(n_jobs)
        # joblib runs a call of one job in the caller: on a cluster of one thread (or a
        # point of one worker) the call would never reach the cluster. Two jobs keep it
        # there, the worker running them in turn.
        return max(2, int(threads))

    def submit(self, func: Any, callback: Any = None) -> Any:
        # `func` is joblib's BatchedCalls; the Dask backend reads its `items` only.
        calls = copy.copy(func)
        calls.items = [(InWorker(call), args, kwargs) for call, args, kwargs in func.items]
        return super().submit(calls, callback)
