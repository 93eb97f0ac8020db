"""Workloads that misbehave on purpose, for the supervisor's failure tests.

Builders follow the real signature (train, eval, scale) and return a Workload.
"""

import os
import signal
import time

from cpulab.engine.workloads import Workload


def _workload(call):
    return Workload(call=call, score=lambda _: (0.0, {}), progress_unit="steps", progress_total=1)


def raises(train, eval, scale):
    def call():
        raise ValueError("the model refused to fit")

    return _workload(call)


def kills_itself(train, eval, scale):
    return _workload(lambda: os.kill(os.getpid(), signal.SIGKILL))


def aborts(train, eval, scale):
    return _workload(os.abort)


def prints_to_stdout(train, eval, scale):
    def call():
        print("chatty library output that must not corrupt the event stream")
        os.write(1, b"and raw bytes on fd 1 too\n")
        return 1

    return _workload(call)


def hangs(train, eval, scale):
    return _workload(lambda: time.sleep(600))


def broken_at_build(train, eval, scale):
    raise RuntimeError("could not build the workload")
