"""Run in a process of its own by tests/engine/test_dask.py: cv-eval's folds on a real
LocalCluster through cpulab's Dask backend, printing as JSON what the scheduler was given.
Its own process, so that scikit-learn stays out of the test process (tests check that the
process driving a run never imports it)."""

import json

from distributed import Client, LocalCluster
from distributed.diagnostics.plugin import SchedulerPlugin
from joblib import parallel_config

from cpulab.api import Setting
from cpulab.engine.daskjobs import ClusterBackend
from cpulab.engine.workloads import cv_eval


class Keys(SchedulerPlugin):
    def __init__(self) -> None:
        self.done: list[str] = []

    def transition(self, key, start, finish, *args, **kwargs) -> None:
        if finish == "memory":
            self.done.append(str(key))


def main() -> None:
    keys = Keys()
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        cluster.scheduler.add_plugin(keys)
        workload = cv_eval(Setting(train=2, eval=1, scale="small"))
        with parallel_config(backend=ClusterBackend(client)):
            scores = workload.call()
    print(json.dumps({"scores": [float(s) for s in scores], "done": keys.done}))


if __name__ == "__main__":
    main()
