"""joblib backends and BLAS/OpenMP threads: real runs in real child processes, and the checks
the parent makes of --backend, --blas-threads and --dask before anything starts."""

from __future__ import annotations

import pytest
from joblib import cpu_count

from cpulab.engine.backends import CLUSTER_EXIT_WAIT, EXIT_WAIT, DaskTarget, backend_named
from cpulab.engine.errors import UsageError
from cpulab.engine.events import Phase, Result, WorkerLoad, parse_event
from cpulab.engine.execution import worker_loads
from cpulab.engine.spec import RunOptions
from cpulab.engine.supervisor import Supervisor
from support.runs import alive, collect, spec_for, tree_pids


async def run_cv_eval(options: RunOptions) -> tuple[Result, list, set[int]]:
    """cv-eval at small scale on 1 x 2 cores: its result, its events, every pid of its tree."""
    handle = await Supervisor().start(spec_for("cv-eval", 1, 2, options=options))
    pids: set[int] = set()

    async def watch(event):
        pids.update(tree_pids(handle.pid))

    events = await collect(handle, watch)
    assert isinstance(events[-1], Result), events[-1]
    return events[-1], events, pids - {handle.pid}


def worker_pids(result: Result) -> set:
    return {pool["worker"] for pool in result.threads["workers"]}


async def test_threading_runs_every_job_in_the_runner():
    result, events, pids = await run_cv_eval(RunOptions(backend="threading"))
    assert result.options["backend"] == "threading"
    assert result.variant == "threading"
    assert result.score is not None and result.score > 0.5
    # No processes to start, so no warm pool: the threads are the runner's.
    assert "workers" not in {e.name for e in events if isinstance(e, Phase)}
    assert result.setup["workers"] == 0
    assert result.threads["workers"] == []
    assert result.threads["runner"]
    assert not alive(pids)


async def test_multiprocessing_starts_its_own_pool_and_records_its_threads():
    result, events, pids = await run_cv_eval(RunOptions(backend="multiprocessing"))
    assert result.variant == "multiprocessing"
    assert result.score is not None and result.score > 0.5
    # A new pool in every call: nothing to warm beforehand.
    assert "workers" not in {e.name for e in events if isinstance(e, Phase)}
    assert worker_pids(result) and result.threads["runner"]
    assert not alive(pids), "the run left processes behind"


@pytest.mark.parametrize("blas_threads", [1, None])
async def test_blas_threads_hold_in_the_runner_and_every_worker(blas_threads):
    result, _, _ = await run_cv_eval(RunOptions(blas_threads=blas_threads))
    runner, workers = result.threads["runner"], result.threads["workers"]
    assert runner and workers
    assert len(worker_pids(result)) == 2  # both of loky's workers reported
    if blas_threads is None:
        # The libraries' own choice, recorded: loky gives each worker cores // n_jobs.
        assert {pool["num_threads"] for pool in workers} == {max(cpu_count() // 2, 1)}
    else:
        assert {pool["num_threads"] for pool in runner} == {1}
        assert {pool["num_threads"] for pool in workers} == {1}
        assert result.variant == "BLAS 1"


def test_worker_load_round_trips_through_json():
    event = WorkerLoad(
        t=1.5,
        workers=[{"name": "0", "address": "tcp://127.0.0.1:1", "cpu": 99.5, "threads": 1}],
    )
    assert parse_event(event.to_json()) == event


def test_worker_loads_read_the_scheduler_view():
    info = {
        "tcp://10.0.0.2:9": {"name": 1, "host": "10.0.0.2", "nthreads": 4, "memory_limit": 8,
                             "metrics": {"cpu": 250.0, "memory": 3}},
        "tcp://10.0.0.1:9": {"name": "a", "nthreads": 2, "memory_limit": None, "metrics": {}},
    }  # fmt: skip
    assert worker_loads(info) == [
        {"name": "a", "address": "tcp://10.0.0.1:9", "host": "", "cpu": 0.0, "threads": 2,
         "memory": 0, "memory_limit": 0},
        {"name": "1", "address": "tcp://10.0.0.2:9", "host": "10.0.0.2", "cpu": 250.0,
         "threads": 4, "memory": 3, "memory_limit": 8},
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("tcp://10.1.2.3:8786", DaskTarget(address="tcp://10.1.2.3:8786")),
        ("scheduler.lan:8786", DaskTarget(address="tcp://scheduler.lan:8786")),
        ("[::1]:8786", DaskTarget(address="tcp://[::1]:8786")),
        (" local:3 ", DaskTarget(local_workers=3)),
    ],
)
def test_dask_targets_read(text, target):
    assert DaskTarget.parse(text) == target


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (RunOptions(backend="fork"), "unknown backend 'fork'"),
        (RunOptions(backend="dask"), "the dask backend needs a cluster"),
        (RunOptions(blas_threads=0), "BLAS threads must be at least 1, not 0"),
        (RunOptions(cluster="local:2", backend="threading"), "not threading: leave --backend out"),
        (RunOptions(backend="dask", cluster="local:0"), "takes 1 to 1024 workers, not 0"),
        (RunOptions(backend="dask", cluster="local:x"), "local:N takes a number of workers"),
        (RunOptions(backend="dask", cluster="tcp://host"), "cannot read Dask address 'tcp://host'"),
        (RunOptions(backend="dask", cluster="host:70000"), "cannot read Dask address 'host:70000'"),
        (RunOptions(backend="dask", cluster="http://host:80"), "cannot read Dask address"),
    ],
)
def test_options_that_cannot_run_are_refused(options, says):
    with pytest.raises(UsageError, match=says):
        options.check()


def test_checked_options_come_back():
    options = RunOptions(backend="dask", cluster="local:2", blas_threads=2)
    assert options.check() is options


def test_a_runner_gets_longer_to_close_a_local_cluster_than_a_remote_one():
    def wait(**options):
        return backend_named(options.get("backend", "loky")).exit_wait(RunOptions(**options))

    assert wait() == EXIT_WAIT
    assert wait(backend="dask", cluster="local:2") == CLUSTER_EXIT_WAIT
    assert wait(backend="dask", cluster="tcp://host:8786") == EXIT_WAIT  # only the client
