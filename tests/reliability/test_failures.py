"""Tasks that raise, abort, exit non-zero, are SIGKILLed from outside or hang: the CLI and
the app report each in words, keep every earlier result, and go on working.

The misbehaving workloads are tests/support/faulty_workloads.py, offered as fault-NAME tasks:
the app gets them through its catalogue, the CLI through support/faulty_cli.py, which adds them to
the catalogue and runs the real CLI.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import psutil
import pytest
from textual.widgets import OptionList

from cpulab.engine.machine import machine_facts
from cpulab.engine.store import ResultStore
from cpulab.engine.supervisor import Supervisor
from cpulab.engine.tasks import CATALOGUE
from cpulab.ui.widgets import RunStatus
from support import faulty_workloads
from support.reliability import leftovers, marked_env, start_python
from support.tui import make_app, make_result, wait_for

# fault -> the line that reports it, in the CLI after "cpulab: ", and in the app after "✗ "
REPORTS = {
    "raises": "ValueError: the model refused to fit",
    "aborts": "ChildDied: the runner was killed by SIGABRT before reporting a result",
    "exits_non_zero": "ChildDied: the runner exited with status 3 before reporting a result",
}
KILLED = (
    "ChildDied: the runner was killed by SIGKILL (often the out-of-memory killer) "
    "before reporting a result"
)


@pytest.fixture
def earlier(results_store) -> list:
    """A store that already holds a result of this machine, as results of earlier sessions."""
    with ResultStore.open(results_store) as store:
        store.add_point(replace(make_result("rf-train", 1, 1, 2.0), machine=machine_facts()))
        return [stored.result for stored in store.points()]


def stored(path: Path) -> list:
    with ResultStore.open(path) as store:
        return [point.result for point in store.points()]


def start_faulty_cli(*args: str, env: dict[str, str]) -> subprocess.Popen:
    return start_python("-m", "support.faulty_cli", *args, env=env)


def wait_for_file(path: Path, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.02)


def the_runner(cli: subprocess.Popen) -> psutil.Process:
    (runner,) = psutil.Process(cli.pid).children()
    return runner


# The CLI


@pytest.mark.parametrize("fault", REPORTS)
def test_the_cli_reports_a_failing_task_in_one_line_and_keeps_earlier_results(
    fault, child_env, earlier, results_store
):
    env, token = marked_env(child_env)
    cli = start_faulty_cli("run", f"fault-{fault}", env=env)
    out, err = cli.communicate(timeout=60)
    assert cli.returncode == 1, err
    assert err.splitlines()[0] == f"cpulab: {REPORTS[fault]}"
    assert "cpulab/cli.py" not in err, "the CLI itself crashed"
    assert out == ""
    assert stored(results_store) == earlier
    assert not leftovers(token)


def test_the_cli_reports_a_run_killed_from_outside_and_the_next_run_works(
    child_env, earlier, results_store, tmp_path
):
    ready = tmp_path / "hanging"
    env, token = marked_env({**child_env, faulty_workloads.READY_FILE: str(ready)})
    cli = start_faulty_cli("run", "fault-hangs", env=env)
    wait_for_file(ready, cli)
    the_runner(cli).kill()  # as the kernel's out-of-memory killer would
    _, err = cli.communicate(timeout=30)
    assert cli.returncode == 1
    assert err.splitlines()[0] == f"cpulab: {KILLED}"
    assert not leftovers(token)

    again = start_faulty_cli("run", "rf-train", "--json", env=env)
    _, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    assert [r.task for r in stored(results_store)] == ["rf-train", "rf-train"]
    assert stored(results_store)[0] == earlier[0]


def test_ctrl_c_ends_a_hanging_run_in_the_cli(child_env, earlier, results_store, tmp_path):
    ready = tmp_path / "hanging"
    env, token = marked_env({**child_env, faulty_workloads.READY_FILE: str(ready)})
    cli = start_faulty_cli("run", "fault-hangs", env=env)
    try:
        wait_for_file(ready, cli)
        cli.send_signal(signal.SIGINT)
        _, err = cli.communicate(timeout=30)
    finally:  # a failure still takes down what it started
        cli.kill()
        for proc in leftovers(token):
            proc.kill()
    assert cli.returncode == 130
    assert err.strip() == "cpulab: cancelled"
    assert not leftovers(token)
    assert stored(results_store) == earlier


def test_a_sweep_that_crashes_keeps_the_points_it_finished(child_env, earlier, results_store):
    env, token = marked_env(child_env)
    sweep = ["--cores", "1,2", "--strategy", "train", "--repeats", "1", "--warmup", "0"]
    cli = start_faulty_cli("sweep", "fault-aborts_with_more_cores", *sweep, env=env)
    out, err = cli.communicate(timeout=60)
    assert cli.returncode == 1
    # (After any warning of a busy machine, which a loaded test machine may give.)
    said = [line for line in err.splitlines() if not line.startswith("cpulab: warning:")]
    assert said[0] == "  1 x 1: 0.000 s median of 1"  # the point that finished
    assert said[1] == f"cpulab: {REPORTS['aborts']}"
    assert "1 x 1" in out  # the closing table shows what did finish
    with ResultStore.open(results_store) as store:
        (sweep_record,) = store.sweeps()
        assert (sweep_record.status, sweep_record.n_points) == ("failed", 1)
        first, *rest = (point.result for point in store.points())
        assert first == earlier[0]
        assert [(r.task, r.train) for r in rest] == [("fault-aborts_with_more_cores", 1)]
    assert not leftovers(token)


# The app


async def run_in_app(pilot, task: str) -> None:
    """Choose `task` as a user would, with the task list, and press r."""
    app = pilot.app
    app.query_one("#tasks", OptionList).highlighted = list(CATALOGUE).index(task)
    await pilot.pause()
    assert app.chosen_task.name == task
    session_before = app._session
    await pilot.press("r")
    # A fault that strikes at once may end the run before a poll sees it running; every
    # start makes a session anew.
    await wait_for(pilot, lambda: app._session is not session_before)


async def test_the_app_reports_each_failure_and_keeps_working(
    child_env, earlier, results_store, monkeypatch
):
    for name, task in faulty_workloads.catalogue().items():
        monkeypatch.setitem(CATALOGUE, name, task)
    env, token = marked_env(child_env)
    with ResultStore.open(results_store) as store:
        app = make_app(store=store, supervisor=Supervisor(env=env, spares=False))
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.results == earlier)
            status = app.query_one(RunStatus)

            async def fails_with(report: str) -> None:
                await wait_for(pilot, lambda: not app.running, timeout=60)
                assert status.has_class("-failed"), status.render()
                # The point that failed, then the report: as a result names its point.
                point = app._session.points[0].label
                assert str(status.render()).startswith(f"✗ {point}: {report}")
                assert app._notifications and list(app._notifications)[-1].message == report
                assert list(app._notifications)[-1].title == f"{point} failed"
                assert app.workspace.session == []  # nothing measured: nothing added
                assert [p.result for p in store.points()] == earlier  # nor lost
                assert not leftovers(token)

            for fault, report in REPORTS.items():
                await run_in_app(pilot, f"fault-{fault}")
                await fails_with(report)

            await run_in_app(pilot, "fault-hangs")
            await wait_for(pilot, lambda: app._phase and app._phase.name == "fit", timeout=60)
            os.kill(app._session.pid, signal.SIGKILL)  # from outside, as an OOM kill would
            await fails_with(KILLED)

            await run_in_app(pilot, "fault-hangs")
            await wait_for(pilot, lambda: app._phase and app._phase.name == "fit", timeout=60)
            await pilot.press("c")
            await wait_for(pilot, lambda: not app.running, timeout=5)
            assert status.has_class("-cancelled")
            assert not leftovers(token)

            await run_in_app(pilot, "rf-train")
            await wait_for(pilot, lambda: not app.running, timeout=60)
            assert status.has_class("-done"), status.render()
            assert [r.task for r in app.results] == ["rf-train", "rf-train"]
        assert [p.result for p in store.points()] == app.results
