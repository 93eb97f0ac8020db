"""Workloads that misbehave on purpose, for the supervisor's failure tests.

Builders follow the real signature (setting) and return a Workload.
`catalogue()` offers them as tasks, for tests that drive the CLI or the app.
"""

import os
import signal
import time
from pathlib import Path

from cpulab.engine.tasks import KNOBS, Task

READY_FILE = "FAULTY_READY_FILE"  # environment: a file `hangs` creates once it is hanging


def _workload(call):
    # Imported here, in the runner child: the tests that import this module for its
    # catalogue, and the processes they start, must stay free of scikit-learn.
    from cpulab.api import Workload

    return Workload(call=call, score=lambda _: (0.0, {}), progress_unit="steps", progress_total=1)


def raises(setting):
    def call():
        raise ValueError("the model refused to fit")

    return _workload(call)


def _down(levels):
    if levels == 0:
        raise RuntimeError("the bottom of the model")
    return _down(levels - 1)


def raises_deep(setting):
    return _workload(lambda: _down(30))  # more frames than an error keeps of a library's


def raises_keyboard_interrupt(setting):
    def call():
        raise KeyboardInterrupt

    return _workload(call)


def kills_itself(setting):
    return _workload(lambda: os.kill(os.getpid(), signal.SIGKILL))


def aborts(setting):
    return _workload(os.abort)


def prints_to_stdout(setting):
    def call():
        print("chatty library output that must not corrupt the event stream")
        os.write(1, b"and raw bytes on fd 1 too\n")
        return 1

    return _workload(call)


def exits_non_zero(setting):
    return _workload(lambda: os._exit(3))


def aborts_with_more_cores(setting):
    """Fits on one core and aborts on more: a sweep that crashes after its first point."""
    if setting.train * setting.eval == 1:
        return _workload(lambda: 1)
    return _workload(os.abort)


def hangs(setting):
    def call():
        # A test that kills or cancels the run from outside learns that it got this far.
        if ready := os.environ.get(READY_FILE):
            Path(ready).touch()
        time.sleep(600)

    return _workload(call)


def broken_at_build(setting):
    raise RuntimeError("could not build the workload")


def catalogue() -> dict[str, Task]:
    """Each workload as a task named fault-NAME, for tests to add to the catalogue."""
    builders = (raises, aborts, exits_non_zero, hangs, aborts_with_more_cores)
    tasks = (
        Task(
            name=f"fault-{builder.__name__}",
            title=f"Faulty workload: {builder.__name__}",
            description="Misbehaves on purpose, for the failure tests.",
            knobs=frozenset(KNOBS),
            metric="none",
            builder=f"support.faulty_workloads:{builder.__name__}",
        )
        for builder in builders
    )
    return {task.name: task for task in tasks}


def scores_nan(setting):
    workload = _workload(lambda: 1)
    workload.score = lambda _: (float("nan"), {})
    return workload
