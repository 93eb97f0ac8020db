"""Reports, from inside the measured call, where every process of the runner's tree may run.

The call starts `eval` joblib workers, then reads the CPU affinity of the runner and every
process below it (psutil), and of every thread of each: pinning must reach them all.
"""

import contextlib
import os

import psutil
from joblib import Parallel, delayed

from cpulab.api import Setting, Workload

NAME = "affinity"
KNOBS = ("eval",)
METRIC = "accuracy"


def worker_pid() -> int:
    return os.getpid()


def thread_affinities(pid: int) -> list[list[int]]:
    """Each thread's affinity: on Linux it belongs to a thread, not to a process."""
    found = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError):  # a thread that has just ended
            found.append(sorted(os.sched_getaffinity(int(tid))))
    return found


def cpulab_task(setting: Setting) -> Workload:
    def call():
        workers = Parallel(n_jobs=setting.eval)(delayed(worker_pid)() for _ in range(4))
        runner = psutil.Process()
        tree = {}
        for process in [runner, *runner.children(recursive=True)]:
            with contextlib.suppress(psutil.Error, OSError):  # a helper that has just ended
                tree[process.pid] = {
                    "affinity": sorted(process.cpu_affinity()),
                    "threads": thread_affinities(process.pid),
                }
        return {"runner": runner.pid, "workers": sorted(set(workers)), "tree": tree}

    def score(outcome):
        return 1.0, outcome

    return Workload(
        call=call,
        score=score,
        progress_unit="jobs",
        progress_total=4,
        worker_jobs=setting.eval,
    )
