"""Run in a process of its own by tests/engine/test_dask.py: a task's measured call on a
real LocalCluster through cpulab's Dask backend, printing as JSON what the scheduler was
given, and which joblib backend each of the runner's own joblib calls ran on. Its own
process, so that scikit-learn stays out of the test process (tests check that the process
driving a run never imports it). Several tasks run one after another on the one cluster,
each seen apart: one line of JSON per task, in the order given.

    python dask_nested.py [cv-eval | grid-search | rf-train] ...
"""

import json
import sys

from distributed import Client, LocalCluster
from distributed.diagnostics.plugin import SchedulerPlugin
from joblib import parallel_config
from joblib.parallel import Parallel

from cpulab.api import Setting
from cpulab.engine.daskjobs import ClusterBackend
from cpulab.engine.workloads import cv_eval, grid_search, rf_train

TASKS = {"cv-eval": cv_eval, "grid-search": grid_search, "rf-train": rf_train}


class Keys(SchedulerPlugin):
    def __init__(self) -> None:
        self.done: list[str] = []

    def transition(self, key, start, finish, *args, **kwargs) -> None:
        if finish == "memory":
            self.done.append(str(key))


def record_backends(backends: dict[str, str]) -> None:
    """Note the backend each joblib call in this process ends up with, by call: a
    fallback configures the call again, inside the first try."""
    initialize = Parallel._initialize_backend

    def initialized(parallel):
        n_jobs = initialize(parallel)
        backends[parallel._id] = type(parallel._backend).__name__
        return n_jobs

    Parallel._initialize_backend = initialized


def seen(task: str, outcome) -> dict:
    if task == "grid-search":
        return {"scores": [float(outcome.best_score_)], "trees": len(outcome.best_estimator_)}
    if task == "rf-train":
        return {"scores": [], "trees": len(outcome)}
    return {"scores": [float(s) for s in outcome]}


def main() -> None:
    tasks = sys.argv[1:] or ["cv-eval"]
    keys, backends = Keys(), {}
    record_backends(backends)
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        cluster.scheduler.add_plugin(keys)
        for task in tasks:
            # Each task is counted from nothing: the keys and backends of its own call only.
            keys.done.clear()
            backends.clear()
            workload = TASKS[task](Setting(train=2, eval=1, scale="small"))
            with parallel_config(backend=ClusterBackend(client)):
                outcome = workload.call()
            found = seen(task, outcome)
            done = {"done": list(keys.done), "backends": list(backends.values())}
            print(json.dumps({**found, **done}), flush=True)


if __name__ == "__main__":
    main()
