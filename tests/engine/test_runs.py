"""Real runs in real child processes: every task completes, failures end in error events,
cancelling leaves no process of the tree alive."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import psutil
import pytest

from cpulab.api import Setting, Workload
from cpulab.engine.errors import UsageError
from cpulab.engine.events import (
    PHASES,
    Cancelled,
    Error,
    Phase,
    Progress,
    Result,
    Started,
)
from cpulab.engine.plugins import checked_workload
from cpulab.engine.runner import checked_score, users_file
from cpulab.engine.spec import RunSpec
from cpulab.engine.supervisor import Supervisor
from cpulab.engine.sweep import SweepPlan
from cpulab.engine.tasks import CATALOGUE, Task
from cpulab.engine.treemeter import group
from support.runs import alive, collect, leaked_shared_memory, spec_for, tree_pids
from support.tui import make_result


def faulty_spec(builder: str) -> RunSpec:
    task = Task(
        name=builder,
        title=builder,
        description="",
        knobs=frozenset({"train", "eval"}),
        metric="none",
        builder=f"support.faulty_workloads:{builder}",
    )
    return RunSpec(
        task=task,
        scale="small",
        train=1,
        eval=1,
        available=2,
    )


@pytest.mark.parametrize(
    ("task", "train", "eval"),
    [
        ("rf-train", 2, 1),
        ("cv-eval", 1, 2),
        ("grid-search", 1, 2),
        ("compare-regressors", 2, 2),
        ("compare-classifiers", 2, 2),
        ("digits-svc", 1, 2),
    ],
)
async def test_every_task_completes_at_small_scale(task, train, eval):
    handle = await Supervisor().start(spec_for(task, train, eval))
    pids_seen: set[int] = set()

    async def watch(event):
        pids_seen.update(tree_pids(handle.pid))

    events = await collect(handle, watch)
    result = events[-1]
    assert isinstance(result, Result), events[-1]
    assert isinstance(events[0], Started) and events[0].pid == handle.pid
    assert (result.task, result.train, result.eval) == (task, train, eval)
    assert len(result.fit_times) == 1 and result.fit_time > 0
    assert result.score is not None and result.score > 0
    # 2 x 2 on 2 cores is oversubscribed: flagged, not refused, as it ran to the end.
    assert ("oversubscribed" in result.flags) == (train * eval > 2)
    assert result.cpu_time > 0 and result.peak_rss > 10 * 2**20
    assert set(result.setup) == {"imports", "data", "workers"}
    # Process-based evaluation starts its workers before the measured call.
    assert (result.setup["workers"] > 0) == (task != "rf-train")
    phases = [e.name for e in events if isinstance(e, Phase)]
    assert phases == [p for p in PHASES if p in phases]
    assert {"imports", "data", "fit", "score"} <= set(phases)
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress[-1].done == progress[-1].total
    assert result.software["libraries"]["scikit-learn"]
    assert result.machine["cores"]["available"] >= 1
    assert not alive(pids_seen), "the run left processes behind"
    assert not leaked_shared_memory(handle.pid)


async def test_repeats_and_warmups_are_timed_separately():
    spec = spec_for("rf-train", scale="small", repeats=3, warmup=1)
    events = await collect(await Supervisor().start(spec))
    result = events[-1]
    assert isinstance(result, Result)
    assert len(result.fit_times) == 3 and len(result.warmup_times) == 1
    assert min(result.fit_times) <= result.fit_time <= max(result.fit_times)
    fits = [e.repeat for e in events if isinstance(e, Phase) and e.name == "fit"]
    assert fits == [1, 2, 3]


async def test_library_output_does_not_corrupt_events(child_env):
    handle = await Supervisor(env=child_env).start(faulty_spec("prints_to_stdout"))
    events = await collect(handle)
    assert isinstance(events[-1], Result), events[-1]


async def test_task_that_raises_ends_in_error_event(child_env):
    events = await collect(await Supervisor(env=child_env).start(faulty_spec("raises")))
    error = events[-1]
    assert isinstance(error, Error)
    assert error.type == "ValueError"
    assert error.message == "the model refused to fit"
    assert "faulty_workloads.py" in error.traceback
    # From the task's own code on: the runner's frames that called it are left out.
    assert error.traceback.startswith("Traceback (most recent call last):\n")
    assert "faulty_workloads.py" in error.traceback.splitlines()[1]
    assert "cpulab/engine/" not in error.traceback
    assert error.exit_status == 1


async def test_an_error_keeps_the_whole_traceback_from_the_users_first_frame(child_env):
    events = await collect(await Supervisor(env=child_env).start(faulty_spec("raises_deep")))
    error = events[-1]
    assert isinstance(error, Error) and error.type == "RuntimeError"
    lines = error.traceback.splitlines()
    assert "faulty_workloads.py" in lines[1] and "in <lambda>" in lines[1]
    # All 31 frames of _down: Python writes the 30 alike three times, then their count.
    assert error.traceback.count("in _down") == 3 + 1
    assert "[Previous line repeated 27 more times]" in error.traceback
    assert lines[-1] == "RuntimeError: the bottom of the model"


async def test_a_keyboard_interrupt_raised_by_the_task_is_its_error(child_env):
    # The runner has a session of its own: no Ctrl-C of a terminal reaches it.
    spec = faulty_spec("raises_keyboard_interrupt")
    events = await collect(await Supervisor(env=child_env).start(spec))
    error = events[-1]
    assert isinstance(error, Error) and error.type == "KeyboardInterrupt", error
    assert "faulty_workloads.py" in error.traceback.splitlines()[1]
    assert error.exit_status == 1


async def test_build_failure_ends_in_error_event(child_env):
    events = await collect(await Supervisor(env=child_env).start(faulty_spec("broken_at_build")))
    assert isinstance(events[-1], Error) and events[-1].type == "RuntimeError"


@pytest.mark.parametrize(
    ("builder", "signal_name"), [("kills_itself", "SIGKILL"), ("aborts", "SIGABRT")]
)
async def test_child_killed_by_signal_ends_in_error_event(child_env, builder, signal_name):
    events = await collect(await Supervisor(env=child_env).start(faulty_spec(builder)))
    error = events[-1]
    assert isinstance(error, Error)
    assert error.type == "ChildDied"
    assert signal_name in error.message
    assert error.exit_status == -getattr(signal, signal_name)


async def test_child_killed_from_outside_ends_in_error_event(child_env):
    handle = await Supervisor(env=child_env).start(faulty_spec("hangs"))

    async def kill_when_fitting(event):
        if isinstance(event, Phase) and event.name == "fit":
            os.kill(handle.pid, signal.SIGKILL)  # as the OOM killer would

    events = await asyncio.wait_for(collect(handle, kill_when_fitting), 30)
    assert isinstance(events[-1], Error) and "SIGKILL" in events[-1].message


async def test_garbage_on_stdout_becomes_error_and_kills_the_child(python):
    script = "print('hello, not json', flush=True); import time; time.sleep(60)"
    handle = await Supervisor(command=[python, "-c", script]).start(spec_for("rf-train"))
    events = await asyncio.wait_for(collect(handle), 10)
    assert len(events) == 1
    assert isinstance(events[0], Error) and events[0].type == "ProtocolError"
    assert "hello, not json" in events[0].message
    assert not alive({handle.pid})


async def test_child_that_exits_silently_reports_status_and_stderr(python):
    script = "import sys; sys.stderr.write('config missing\\n'); sys.exit(3)"
    handle = await Supervisor(command=[python, "-c", script]).start(spec_for("rf-train"))
    (error,) = await asyncio.wait_for(collect(handle), 10)
    assert isinstance(error, Error)
    assert error.exit_status == 3
    assert "status 3" in error.message
    assert error.stderr_tail == "config missing"


async def test_a_runner_ending_after_its_result_is_awaited_without_spinning(python):
    """A runner may take a while after its last result to shut its workers down. The
    wait sleeps until the child's exit is reported: it neither polls (hundreds of the
    app's event loop's wake-ups a second) nor waits for a worker still holding the
    runner's stderr, as `Process.wait()` would before Python 3.12."""
    result = make_result("rf-train", 1, 1, 0.5)
    script = (
        "import subprocess, sys, time; sys.stdin.read();"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
        f"print({result.to_json()!r}, flush=True); time.sleep(0.5)"
    )
    handle = await Supervisor(command=[python, "-c", script]).start(spec_for("rf-train"))
    # The loop's selector is private, but the one place that counts its wake-ups.
    selector = asyncio.get_running_loop()._selector  # type: ignore[attr-defined]
    select, wakeups = selector.select, 0

    def counted(timeout=None):
        nonlocal wakeups
        wakeups += 1
        return select(timeout)

    selector.select = counted
    try:
        (event,) = await asyncio.wait_for(collect(handle), 30)
    finally:
        selector.select = select
    assert isinstance(event, Result) and event.fit_time == 0.5
    assert handle.proc.returncode == 0
    assert wakeups < 50  # a look every 2 ms would be some 250 in the half second
    assert not group(handle.pid)  # the worker holding stderr was ended with it


@pytest.mark.parametrize(
    ("task", "train", "eval", "when"),
    [
        ("rf-train", 2, 1, "fit"),  # threads inside the child
        ("cv-eval", 1, 2, "fit"),  # loky worker processes
        ("cv-eval", 1, 2, "workers"),  # while the workers are starting
    ],
)
async def test_cancel_leaves_no_process_of_the_tree(task, train, eval, when):
    handle = await Supervisor().start(spec_for(task, train, eval, scale="full"))
    pids: set[int] = set()
    cancel_seconds = None

    async def cancel_when(event):
        nonlocal cancel_seconds
        if isinstance(event, Phase) and event.name == when and cancel_seconds is None:
            # Let the phase get going (workers spawned, trees being built) first.
            await asyncio.sleep(0.5)
            pids.update(tree_pids(handle.pid))
            started = time.monotonic()
            await handle.cancel()
            cancel_seconds = time.monotonic() - started

    events = await asyncio.wait_for(collect(handle, cancel_when), 60)
    assert isinstance(events[-1], Cancelled), events[-1]
    assert cancel_seconds is not None and cancel_seconds < 2.0
    if task == "cv-eval" and when == "fit":
        assert len(pids) >= 3, "expected the child and its two workers"
    assert not alive(pids)
    assert not leaked_shared_memory(handle.pid)


async def test_consumer_that_stops_listening_kills_the_child(child_env):
    handle = await Supervisor(env=child_env).start(faulty_spec("hangs"))
    events = handle.events()
    async for event in events:
        if isinstance(event, Phase) and event.name == "fit":
            break
    await events.aclose()
    assert not alive({handle.pid})


def test_a_session_in_the_foreground_returns_the_final_event():
    # In a process of its own: another test in this one may have imported scikit-learn.
    probe = (
        "import sys\n"
        "from cpulab.engine.events import Result\n"
        "from cpulab.engine.session import Session\n"
        "from support.runs import spec_for\n"
        "seen = []\n"
        "outcome = Session(spec_for('rf-train')).listen(seen.append).run_blocking()\n"
        "assert outcome.status == 'done' and isinstance(outcome.final, Result)\n"
        "assert seen[-1] is outcome.final\n"
        "assert 'sklearn' not in sys.modules, 'the parent process imported scikit-learn'\n"
    )
    tests = str(Path(__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([tests, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr


async def test_sweep_interleaves_points_and_reports_each():
    plan = SweepPlan(
        task=CATALOGUE["cv-eval"],
        scale="small",
        strategy="eval",
        cores=(1, 2),
        repeats=2,
        warmup=1,
        available=2,
    )
    handle = await Supervisor().start(plan.spec())
    events = await collect(handle)
    reported = [e for e in events if isinstance(e, Result)]
    # Each measured run is reported as it ends: partial points first, then each final one.
    assert [(r.train, r.eval, r.partial, len(r.fit_times)) for r in reported] == [
        (1, 1, True, 1),
        (1, 2, True, 1),
        (1, 1, False, 2),
        (1, 2, False, 2),
    ]
    assert reported[0].score is None and reported[-1].score is not None
    assert events[-1] is reported[-1]
    results = [r for r in reported if not r.partial]
    timed = [
        (e.name, e.point, e.repeat)
        for e in events
        if isinstance(e, Phase) and e.name in ("warmup", "fit")
    ]
    assert timed == [
        ("warmup", 0, 1),
        ("warmup", 1, 1),
        ("fit", 0, 1),
        ("fit", 1, 1),
        ("fit", 0, 2),
        ("fit", 1, 2),
    ]
    # Imports are paid once; worker start-up is measured for the point that has workers.
    assert sum(1 for e in events if isinstance(e, Phase) and e.name == "imports") == 1
    assert results[0].worker_times == [] and results[0].setup["workers"] == 0
    assert results[1].worker_times and all(t > 0 for t in results[1].worker_times)
    for result in results:
        assert len(result.fit_times) == 2 and len(result.warmup_times) == 1
        assert set(result.load) == {"other_cores", "steal_cores", "iowait_cores"}


async def test_a_score_that_is_not_a_number_is_reported_as_none(child_env):
    events = await collect(await Supervisor(env=child_env).start(faulty_spec("scores_nan")))
    result = events[-1]
    assert isinstance(result, Result)
    assert result.score is None
    assert result.details["score_problem"] == "the score came out as nan"
    assert "NaN" not in result.to_json()


def test_only_code_outside_cpulab_and_installed_libraries_is_the_users(tmp_path):
    import json as stdlib_module

    from cpulab.engine import supervisor

    assert not users_file(supervisor.__file__)
    assert not users_file(psutil.__file__)  # an installed library
    assert not users_file(stdlib_module.__file__)
    assert not users_file("<frozen runpy>")
    assert users_file(str(tmp_path / "my_task.py"))


@pytest.mark.parametrize(
    ("returned", "problem"),
    [
        ("0.5", "its Workload's score returned str '0.5', not (a number or None, a dict"),
        ((0.5,), "its Workload's score returned tuple '(0.5,)'"),
        ((0.5, [1]), "its Workload's score returned tuple '(0.5, [1])'"),
        (("x", {}), "its Workload's score is str, not a number or None"),
        ((True, {}), "its Workload's score is bool, not a number or None"),
        ((0.5, {"o": object()}), "score details are not JSON: Object of type object is not"),
        ((10**400, {}), "its Workload's score is too large for a float"),
    ],
)
def test_a_score_not_of_the_workloads_shape_is_bad_input_naming_the_task(returned, problem):
    with pytest.raises(UsageError) as caught:
        checked_score(returned, spec_for("cv-eval"))
    assert str(caught.value).startswith("cv-eval: ") and problem in str(caught.value)


def test_a_score_of_the_workloads_shape_is_kept_as_a_float():
    assert checked_score((Fraction(1, 2), {"folds": 3}), spec_for("cv-eval")) == (
        0.5,
        {"folds": 3},
    )
    assert checked_score((None, {}), spec_for("cv-eval")) == (None, {})


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"call": 5}, "its Workload's call is int, not a function"),
        ({"score": None}, "its Workload's score is NoneType, not a function"),
        ({"worker_jobs": 10_000}, "its Workload's worker_jobs is 10000: a whole number of worker"),
        ({"worker_jobs": 0}, "its Workload's worker_jobs is 0"),
        ({"worker_jobs": 2.0}, "its Workload's worker_jobs is 2.0"),
        ({"worker_jobs": True}, "its Workload's worker_jobs is True"),
    ],
)
def test_a_workload_the_runner_cannot_use_is_bad_input(fields, problem):
    # A runner that took worker_jobs=10000 as it was started ten thousand workers.
    workload = Workload(
        **{
            "call": lambda: None,
            "score": lambda outcome: (0.5, {}),
            "progress_unit": "fits",
            "progress_total": 1,
            **fields,
        }
    )
    with pytest.raises(UsageError) as caught:
        checked_workload(workload, Setting(train=1, eval=2, scale="small"), "my_task.py")
    assert str(caught.value).startswith(f"my_task.py: {problem}")


def test_a_workload_may_ask_for_the_workers_its_split_does():
    workload = Workload(lambda: None, lambda o: (0.5, {}), "fits", 1, worker_jobs=64)
    setting = Setting(train=1, eval=64, scale="small")  # an oversubscribed split, allowed
    assert checked_workload(workload, setting, "my_task.py") is workload
