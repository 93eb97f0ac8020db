"""Runs on a real Dask LocalCluster started by the runner child: the result records the
cluster, the workers' load reaches the event stream, and neither the end of a run nor a
cancel leaves a process behind."""

from __future__ import annotations

import asyncio
import time
from importlib.util import find_spec

import pytest

from cpulab.engine.events import Cancelled, Phase, Result, WorkerLoad
from cpulab.engine.spec import RunOptions
from cpulab.engine.supervisor import Supervisor
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
