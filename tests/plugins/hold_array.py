"""Each worker holds an array of a known size.

Every fold allocates HOLD_MB (the environment's CPULAB_TEST_HOLD_MB, default 300) MiB of
float64, touches every page, and holds it for HOLD_SECONDS, long enough for the runner's
once-a-second memory reads to see it. The workers import nothing beyond numpy and joblib,
so the array is nearly all of their unique memory.
"""

import os
import time

import numpy as np
from joblib import Parallel, delayed

from cpulab.api import Setting, Workload

NAME = "hold-array"
KNOBS = ("eval",)
METRIC = "score"
HOLD_SECONDS = 1.6


def hold(megabytes: int) -> int:
    array = np.ones(megabytes << 17)  # 2**20 / 8 float64 per MiB; ones() touches each page
    time.sleep(HOLD_SECONDS)
    return int(array[-1])


def cpulab_task(setting: Setting) -> Workload:
    megabytes = int(os.environ.get("CPULAB_TEST_HOLD_MB", "300"))
    jobs = max(setting.eval, 1)

    def call():
        return Parallel(n_jobs=setting.eval)(delayed(hold)(megabytes) for _ in range(jobs))

    return Workload(
        call=call,
        score=lambda outcome: (float(sum(outcome)), {}),
        progress_unit="folds",
        progress_total=jobs,
        worker_jobs=setting.eval,
        worker_modules=(),
    )
