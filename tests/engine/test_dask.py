"""Runs on a real Dask LocalCluster started by the runner child: the result records the
cluster, the workers' load reaches the event stream, and neither the end of a run nor a
cancel leaves a process behind. Only the measured call's own tasks reach the scheduler:
the calls nested in them run inside the worker, and a search's refit in the runner. A
cluster-size sweep over the workers of a scheduler and workers started as separate
processes is stored and analysed like a local one."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import time
from importlib.util import find_spec
from pathlib import Path

import pytest

from cpulab.engine.events import Cancelled, Phase, Result, WorkerLoad
from cpulab.engine.spec import RunOptions
from cpulab.engine.store import ResultStore
from cpulab.engine.supervisor import Supervisor
from support.cli import cpulab
from support.reliability import leftovers, marked_env, seconds_until_gone
from support.runs import collect, spec_for

pytestmark = pytest.mark.skipif(find_spec("distributed") is None, reason="needs cpulab[dask]")

LOCAL_CLUSTER = RunOptions(backend="dask", cluster="local:2")


async def test_cv_eval_runs_on_a_local_cluster_of_two_workers():
    env, token = marked_env()
    spec = spec_for("cv-eval", scale="small", repeats=2, options=LOCAL_CLUSTER)
    handle = await Supervisor(env=env).start(spec)
    events = await asyncio.wait_for(collect(handle), 120)
    result = events[-1]
    assert isinstance(result, Result), events[-1]
    assert handle.proc.returncode == 0  # it closed the cluster and exited by itself
    assert result.score is not None and result.score > 0.5
    assert result.variant == "dask local:2"
    assert (result.options["backend"], result.options["cluster"]) == ("dask", "local:2")
    cluster = result.details["cluster"]
    assert cluster["local"] and cluster["address"].startswith("tcp://")
    assert (cluster["workers"], cluster["threads_per_worker"], cluster["threads"]) == (2, [1, 1], 2)
    # Starting the cluster and importing scikit-learn in its workers is setup, not fit time.
    assert result.setup["workers"] > 0
    assert [e.name for e in events if isinstance(e, Phase)].count("workers") == 1
    assert len({pool["worker"] for pool in result.threads["workers"]}) == 2

    loads = [e for e in events if isinstance(e, WorkerLoad)]
    assert loads, "no WorkerLoad event reached the supervisor"
    assert all(len(load.workers) == 2 for load in loads)
    assert {w["address"] for w in loads[-1].workers} == {
        pool["worker"] for pool in result.threads["workers"]
    }
    assert all(w["threads"] == 1 and w["memory"] > 0 for w in loads[-1].workers)
    assert seconds_until_gone(token, time.monotonic()) is not None, "the cluster outlived the run"
    # The scheduler's stream saw the 10 folds (5 x 2) of each of the 2 runs, and no tree
    # of their forests.
    tasks = result.timeline["tasks"]
    assert tasks["label"] and all(label.startswith("fit ") for label in tasks["label"]), tasks
    assert sum(tasks["count"]) == 20


NESTED = ("cv-eval", "grid-search", "rf-train")


@pytest.fixture(scope="module")
def on_a_local_cluster() -> dict[str, dict]:
    """What tests/support/dask_nested.py saw of each task's small measured call (training
    knob 2) on a LocalCluster of two workers: one cluster for the three, each task's keys
    and backends counted apart, as starting a cluster each would only repeat the setup."""
    support = Path(__file__).resolve().parents[1] / "support" / "dask_nested.py"
    done = subprocess.run(
        [sys.executable, str(support), *NESTED],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    lines = done.stdout.strip().splitlines()[-len(NESTED) :]
    return {task: json.loads(line) for task, line in zip(NESTED, lines, strict=True)}


def _joblib_tasks(keys: list[str]) -> tuple[list[str], int]:
    """joblib's tasks among the keys and the calls they held; scattered data ends in
    memory too, under a key of its own."""
    tasks = [key for key in keys if "batch_of_" in key]
    return tasks, sum(int(key.split("_calls")[0].rsplit("_", 1)[1]) for key in tasks)


def test_nested_calls_run_inside_the_worker_and_never_reach_the_scheduler(on_a_local_cluster):
    """The scheduler itself counts what it was given, through a plugin: one task per
    batch of folds, none for the trees each fold's forest fits in two threads."""
    found = on_a_local_cluster["cv-eval"]
    scores, keys = found["scores"], found["done"]
    assert len(scores) == 10 and min(scores) > 0.5
    tasks, calls = _joblib_tasks(keys)
    assert tasks and all("_fit_and_score" in key for key in tasks), keys
    assert not any("build_trees" in key for key in keys)
    assert calls == 10  # every fold once, in batches of joblib's choosing
    assert found["backends"] == ["ClusterBackend"]


def test_a_searchs_refit_runs_in_the_runner_not_on_the_cluster(on_a_local_cluster):
    """The search's fits are the only tasks the scheduler gets: the refit of the best
    forest, a top-level call the runner makes after them, runs there in threads at the
    training knob (2), as it would without Dask, instead of sending its trees back."""
    found = on_a_local_cluster["grid-search"]
    assert found["scores"][0] > 0.5 and found["trees"] == 10
    tasks, calls = _joblib_tasks(found["done"])
    assert tasks and all("_fit_and_score" in key for key in tasks), found["done"]
    assert not any("build_trees" in key for key in found["done"])
    assert calls == 15  # 5 candidates x 3 folds, and nothing for the refit
    assert found["backends"] == ["ClusterBackend", "ThreadingBackend"]


def test_a_task_whose_outer_call_is_the_forest_sends_its_trees_to_the_cluster(
    on_a_local_cluster,
):
    """rf-train's first top-level call is the forest itself: its trees are the tasks."""
    found = on_a_local_cluster["rf-train"]
    assert found["trees"] == 50
    tasks, calls = _joblib_tasks(found["done"])
    assert tasks and all("_parallel_build_trees" in key for key in tasks), found["done"]
    assert calls == 50
    assert found["backends"] == ["ClusterBackend"]


async def test_a_cancel_during_a_dask_fit_leaves_no_process():
    env, token = marked_env()
    spec = spec_for("cv-eval", scale="full", options=LOCAL_CLUSTER)
    handle = await Supervisor(env=env).start(spec)
    requested: float | None = None
    cluster_size = 0

    async def cancel_when_fitting(event):
        nonlocal requested, cluster_size
        if isinstance(event, Phase) and event.name == "fit" and requested is None:
            await asyncio.sleep(0.3)
            cluster_size = len(leftovers(token))
            requested = time.monotonic()
            await handle.cancel()

    events = await asyncio.wait_for(collect(handle, cancel_when_fitting), 120)
    assert isinstance(events[-1], Cancelled), events[-1]
    assert requested is not None and cluster_size >= 3  # the runner and its two workers
    gone_after = seconds_until_gone(token, requested)
    assert gone_after is not None, "processes of the cluster outlived the cancel"
    assert gone_after < 3.0


def _dask_command() -> str | None:
    beside = Path(sys.executable).with_name("dask")  # the environment's own first
    return str(beside) if beside.exists() else shutil.which("dask")


@pytest.fixture
def scheduler_of_two_workers(tmp_path):
    """`dask scheduler` on a free port of 127.0.0.1 and two one-thread `dask worker`s, each
    started as its own process; the scheduler's address once both workers have joined."""
    dask = _dask_command()
    if dask is None:
        pytest.skip("needs the dask command line (dask scheduler, dask worker)")
    from distributed import Client

    env, token = marked_env()
    found = tmp_path / "scheduler.json"
    quiet = {"env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    # The command as a user types it; the scheduler file says which port it took.
    scheduler = [dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"]
    procs = [subprocess.Popen([*scheduler, "--scheduler-file", str(found)], **quiet)]
    try:
        address = None
        deadline = time.monotonic() + 30
        while address is None and time.monotonic() < deadline:
            try:
                address = json.loads(found.read_text())["address"]
            except (OSError, ValueError, KeyError):
                time.sleep(0.1)
        assert address is not None, "the scheduler wrote no address within 30 s"
        worker = [dask, "worker", address, "--nthreads", "1", "--host", "127.0.0.1"]
        procs += [subprocess.Popen([*worker, "--no-dashboard"], **quiet) for _ in range(2)]
        with Client(address, timeout=10) as client:
            client.wait_for_workers(2, timeout=30)
        yield address
    finally:
        # The workers first, so none waits on a scheduler that has gone.
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        seconds_until_gone(token, time.monotonic())  # and kills what is left, if any


def test_a_cluster_size_sweep_over_one_and_two_workers_is_stored_and_analysed(
    scheduler_of_two_workers, tmp_path
):
    address = scheduler_of_two_workers
    db = tmp_path / "r.db"
    done = cpulab(
        "sweep", "cv-eval", "--dask", address, "--workers", "1,2", "--scale", "small",
        "--repeats", "2", "--warmup", "0", "--json", "--db", str(db), timeout=150,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    sweep = document["sweep"]
    assert (sweep["cores"], sweep["strategy"], sweep["status"]) == ([1, 2], "eval", "done")
    points = sorted(document["points"], key=lambda point: point["eval"])
    # The worker count is the point's core count, on its evaluation knob.
    assert [(point["train"], point["eval"]) for point in points] == [(1, 1), (1, 2)]
    for point in points:
        assert point["variant"] == f"dask {address} by workers"
        assert point["options"]["cluster_workers"] is True
        assert len(point["fit_times"]) == 2 and point["score"] > 0.5
        cluster = point["details"]["cluster"]
        assert (cluster["workers"], cluster["local"]) == (2, False)
        used = (cluster["used_workers"], cluster["used_threads"])
        assert used == (point["eval"], point["eval"])
    # The one-worker point's tasks all ran on one worker; the folds only, as ever.
    one, two = (point["timeline"] for point in points)
    assert len(one["workers"]) == 1 and all(w.startswith("tcp://") for w in one["workers"])
    assert set(one["workers"]) <= set(two["workers"])
    labels = one["tasks"]["label"] + two["tasks"]["label"]
    assert labels and all(label.startswith("fit ") for label in labels)

    analysis = document["analysis"]
    assert [(p["eval"], p["cores"]) for p in analysis["points"]] == [(1, 1), (2, 2)]
    assert analysis["baseline"]["n"] == 2 and analysis["points"][1]["speedup"] > 0
    with ResultStore.open(db, readonly=True) as store:
        (stored,) = store.sweeps()
        assert stored.n_points == 2 and stored.status == "done"
        results = [point.result for point in store.points()]
    assert sorted(r.eval for r in results) == [1, 2]
    assert {r.variant for r in results} == {f"dask {address} by workers"}
