"""Faults of processes and signals: a runner that dies under its workers, a CLI that dies
while its task holds the GIL, Ctrl-Z. Real runners, real workers, real signals."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import psutil
import pytest

from cpulab.engine.cgroup import cgroups_available
from cpulab.engine.events import Error, Phase
from cpulab.engine.store import ResultStore
from cpulab.engine.supervisor import Supervisor
from support.reliability import leftovers, marked_env, seconds_until_gone, start_python
from support.runs import collect, leaked_shared_memory, spec_for


def cpulab_process(*args: str, env: dict[str, str]) -> subprocess.Popen:
    return start_python("-m", "cpulab", *args, env=env)


async def test_a_runner_killed_under_its_workers_is_reported_and_its_workers_end():
    env, token = marked_env()
    handle = await Supervisor(env=env, spares=False).start(
        spec_for("cv-eval", 1, 2, repeats=200, warmup=0)
    )
    killed_at = None

    async def kill_runner_once_fitting(event):
        nonlocal killed_at
        if isinstance(event, Phase) and event.name == "fit" and killed_at is None:
            assert len(psutil.Process(handle.pid).children()) >= 2  # workers exist
            os.kill(handle.pid, signal.SIGKILL)  # as the out-of-memory killer would
            killed_at = time.monotonic()

    events = await collect(handle, kill_runner_once_fitting)

    final = events[-1]
    assert isinstance(final, Error) and final.type == "ChildDied"
    assert "killed by SIGKILL" in final.message
    assert killed_at is not None and time.monotonic() - killed_at < 5
    assert seconds_until_gone(token, killed_at, timeout=5) is not None
    assert not leaked_shared_memory(handle.pid)


def test_the_cli_reports_a_runner_killed_under_its_workers(results_store):
    env, token = marked_env()
    cli = cpulab_process("run", "cv-eval", "--eval", "2", "--repeats", "200", env=env)
    try:
        runner = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            children = psutil.Process(cli.pid).children()
            if children and len(children[0].children()) >= 2:
                runner = children[0]
                break
            time.sleep(0.1)
        assert runner is not None, "the workers never started"
        runner.kill()
        killed_at = time.monotonic()
        _, err = cli.communicate(timeout=10)
        assert time.monotonic() - killed_at < 5
        assert cli.returncode == 1
        assert err.splitlines()[0].startswith("cpulab: ChildDied: the runner was killed by SIGKILL")
        assert seconds_until_gone(token, killed_at, timeout=5) is not None
    finally:
        cli.kill()
        for proc in leftovers(token):
            proc.kill()


# A task whose import never returns and never lets go of the GIL: a regular expression
# that backtracks for longer than any test runs.
GIL_HOG = '''"""Holds the GIL at import."""

import re

re.match(r"(a+)+$", "a" * 64 + "b")


def cpulab_task(setting):
    raise AssertionError("never reached")
'''


def started_runner(cli: subprocess.Popen, timeout: float = 30) -> psutil.Process:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = psutil.Process(cli.pid).children()
        if children:
            return children[0]
        time.sleep(0.05)
    raise AssertionError("the runner never started")


def test_a_runner_whose_task_holds_the_gil_dies_with_its_cli(tmp_path):
    task_file = tmp_path / "gil_hog.py"
    task_file.write_text(GIL_HOG)
    env, token = marked_env()
    cli = cpulab_process("run", "--task-file", str(task_file), env=env)
    try:
        runner = started_runner(cli)
        time.sleep(1.5)  # well into the task's import, GIL held
        assert runner.cpu_percent(0.3) > 50
        cli.kill()  # kill -9: the CLI gets no chance to end the tree
        killed_at = time.monotonic()
        cli.wait(5)
        assert seconds_until_gone(token, killed_at, timeout=3) is not None
    finally:
        cli.kill()
        for proc in leftovers(token):
            proc.kill()


@pytest.mark.parametrize("workers", [1, 2, 4], ids=["starting", "started", "all"])
def test_workers_die_with_their_runner_when_the_cli_is_killed(results_store, workers):
    env, token = marked_env()
    cli = cpulab_process("run", "cv-eval", "--eval", "2", "--repeats", "200", env=env)
    try:
        runner = started_runner(cli, timeout=60)
        deadline = time.monotonic() + 60
        while len(runner.children()) < workers and time.monotonic() < deadline:
            time.sleep(0.02)
        assert_kill_9_leaves_nothing(cli, runner, token, timeout=5)
    finally:
        cli.kill()
        for proc in leftovers(token):
            proc.kill()


def assert_kill_9_leaves_nothing(
    cli: subprocess.Popen, runner: psutil.Process, token: str, timeout: float
) -> None:
    """kill -9 of the CLI: its run's processes all gone within `timeout` seconds, and
    nothing of the runner's left in /dev/shm."""
    cli.kill()
    killed_at = time.monotonic()
    cli.wait(5)
    assert seconds_until_gone(token, killed_at, timeout=timeout) is not None
    assert not leaked_shared_memory(runner.pid)


def held(proc: psutil.Process) -> bool:
    """Stopped, or waiting in vfork() on a stopped child: a process that was starting a
    worker (subprocess and loky spawn through vfork) when the stop came sleeps, in
    disk-sleep, until that child has exec'd, which a stopped child cannot. It runs no
    more than a stopped one, and continues with it."""
    status = proc.status()
    if status == psutil.STATUS_DISK_SLEEP:
        exe = proc.exe()  # a vfork child that has not exec'd runs its parent's program
        return any(
            child.status() == psutil.STATUS_STOPPED and child.exe() == exe
            for child in proc.children()
        )
    return status == psutil.STATUS_STOPPED


def stopped_mid_run(cli: subprocess.Popen) -> list[psutil.Process]:
    """Ctrl-Z as its workers appear: the run's tree (runner first), all held."""
    runner = started_runner(cli, timeout=60)
    deadline = time.monotonic() + 60
    while len(runner.children()) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    tree = [runner, *runner.children(recursive=True)]
    cli.send_signal(signal.SIGTSTP)
    # A process in uninterruptible sleep (disk-sleep: a page fault, a write on a slow
    # disk) takes its stop only once the sleep ends, so wait for it.
    deadline = time.monotonic() + 30
    everyone = [psutil.Process(cli.pid), *tree]
    while time.monotonic() < deadline and not all(map(held, everyone)):
        time.sleep(0.05)
    assert {p.pid: p.status() for p in everyone if not held(p)} == {}
    return tree


def test_ctrl_z_stops_the_whole_run_and_fg_continues_it(results_store):
    env, token = marked_env()
    # 10 runs: the stop comes as the workers appear, seconds before the last run ends.
    cli = cpulab_process("run", "cv-eval", "--eval", "2", "--repeats", "10", env=env)
    try:
        tree = stopped_mid_run(cli)
        before = sum(sum(p.cpu_times()[:2]) for p in tree)
        time.sleep(0.5)
        assert sum(sum(p.cpu_times()[:2]) for p in tree) == before  # nothing measures on

        cli.send_signal(signal.SIGCONT)  # what the shell's fg sends
        _, err = cli.communicate(timeout=60)
        assert cli.returncode == 0, err
        with ResultStore.open(results_store) as store:
            (point,) = store.points()
        assert len(point.result.fit_times) == 10
    finally:
        cli.kill()
        for proc in leftovers(token):
            proc.kill()


def test_kill_9_of_a_run_stopped_with_ctrl_z_leaves_no_process_behind(results_store):
    # `kill -9 %1` of a stopped job: nothing is left to continue the run, so the kernel
    # does, as its parent ends, and the runner ends its tree.
    env, token = marked_env()
    cli = cpulab_process("run", "cv-eval", "--eval", "2", "--repeats", "10", env=env)
    try:
        runner = stopped_mid_run(cli)[0]
        assert_kill_9_leaves_nothing(cli, runner, token, timeout=15)
    finally:
        cli.kill()
        for proc in leftovers(token):
            proc.kill()


DAEMON_TASK = '''"""Leaves a daemon behind: a double fork into a session of its own."""

import os
import time

from cpulab.api import Workload


def cpulab_task(setting):
    def call():
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(600)  # neither the tree nor the process group finds this one
            os._exit(0)
        os.wait()
        return 1

    return Workload(call=call, score=lambda _: (None, {}), progress_unit="steps",
                    progress_total=None)
'''


@pytest.mark.skipif(not cgroups_available(), reason="no writable cgroup v2 here")
def test_a_daemon_the_task_leaves_is_ended_with_the_run(tmp_path, results_store):
    task_file = tmp_path / "daemon.py"
    task_file.write_text(DAEMON_TASK)
    env, token = marked_env()
    cli = cpulab_process("run", "--task-file", str(task_file), env=env)
    try:
        _, err = cli.communicate(timeout=60)
        assert cli.returncode == 0, err
        assert seconds_until_gone(token, time.monotonic(), timeout=3) is not None
    finally:
        cli.kill()
        for proc in leftovers(token):
            proc.kill()


def test_a_task_that_calls_sys_exit_is_named(tmp_path, results_store):
    task_file = tmp_path / "quits.py"
    task_file.write_text(
        '"""Quits."""\n\nimport sys\n\n\ndef cpulab_task(setting):\n    sys.exit(0)\n'
    )
    env, token = marked_env()
    cli = cpulab_process("run", "--task-file", str(task_file), env=env)
    _, err = cli.communicate(timeout=60)
    assert cli.returncode == 1
    assert err.splitlines()[0] == (
        f"cpulab: SystemExit: quits (task file {task_file}) called sys.exit(0) before its result"
    )
    assert not leftovers(token)
