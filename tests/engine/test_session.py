"""The engine session: one lifecycle for a run or a sweep, from request to stored result.
Real runs in real child processes; the faces' own tests drive the same session."""

import asyncio
import json
import shutil
import signal
import sqlite3
import time
from dataclasses import replace

import pytest

from cpulab.engine import session as session_module
from cpulab.engine import store as store_module
from cpulab.engine.events import Phase, Result, Started
from cpulab.engine.session import Session
from cpulab.engine.store import ResultStore
from cpulab.engine.supervisor import Supervisor
from cpulab.engine.sweep import SweepPlan, parse_cores
from cpulab.engine.tasks import CATALOGUE, Task
from support.faulty_workloads import catalogue as faulty_tasks
from support.runs import collect, spec_for

CV_EVAL = CATALOGUE["cv-eval"]


def plan_of(task: Task, cores: str = "1,2", strategy: str = "eval", **fields) -> SweepPlan:
    return SweepPlan(
        task=task,
        scale="small",
        strategy=strategy,
        cores=parse_cores(cores, 2),
        repeats=fields.pop("repeats", 1),
        warmup=fields.pop("warmup", 0),
        available=2,
        **fields,
    )


@pytest.fixture
def store(tmp_path):
    with ResultStore.open(tmp_path / "results.sqlite") as opened:
        yield opened


async def test_a_sweep_stores_each_result_as_it_arrives_and_ends_done(store):
    stored_when_heard = []

    def listener(event):
        if isinstance(event, Result):  # listeners hear a result once it is committed
            stored_when_heard.append(len(store.points()))

    outcome = await Session(plan_of(CV_EVAL), store=store).listen(listener).run()

    assert outcome.status == "done"
    assert stored_when_heard == [1, 2]
    [sweep] = store.sweeps()
    assert (sweep.id, sweep.status, sweep.error, sweep.n_points) == (
        outcome.sweep_id,
        "done",
        None,
        2,
    )
    assert [p.result for p in store.points()] == list(outcome.results)


async def test_a_single_run_is_stored_without_a_sweep(store):
    outcome = await Session(spec_for("rf-train"), store=store).run()

    assert outcome.status == "done" and outcome.sweep_id is None
    assert [p.sweep_id for p in store.points()] == [None]
    assert store.sweeps() == []


async def test_a_sweep_whose_runner_raises_is_stored_as_failed_with_its_error(store, child_env):
    task = faulty_tasks()["fault-raises"]
    session = Session(plan_of(task), store=store, supervisor=Supervisor(env=child_env))

    outcome = await session.run()

    assert outcome.status == "failed"
    assert outcome.error is not None and outcome.error.type == "ValueError"
    [sweep] = store.sweeps()
    assert sweep.status == "failed"
    assert sweep.error == "ValueError: the model refused to fit"


async def test_a_cancelled_sweep_keeps_the_points_it_measured(store):
    session = Session(plan_of(CV_EVAL, "1-4"), store=store)
    # Cancelled at its first result, on the loop it runs on, as the app's cancel key does.
    session.listen(lambda event: isinstance(event, Result) and _soon(session.cancel()))

    outcome = await session.run()

    assert outcome.status == "cancelled"
    [sweep] = store.sweeps()
    assert sweep.status == "cancelled"
    assert 1 <= sweep.n_points < 4
    assert len(store.points()) == len(outcome.results) == sweep.n_points


async def test_a_signal_marks_the_sweep_interrupted(store):
    session = Session(plan_of(CV_EVAL, "1-4"), store=store)
    session.listen(
        lambda event: isinstance(event, Result) and session.stop_soon("interrupted", signal.SIGTERM)
    )

    outcome = await session.run()

    assert (outcome.status, outcome.signal_name) == ("interrupted", "SIGTERM")
    [sweep] = store.sweeps()
    assert sweep.status == "interrupted" and sweep.n_points >= 1


async def test_a_sweep_stopped_before_it_starts_is_cancelled_without_points(store):
    session = Session(plan_of(CV_EVAL), store=store)
    await session.cancel()  # before run(): the runner is stopped as soon as it exists

    outcome = await session.run()

    assert outcome.status == "cancelled" and outcome.results == ()
    assert [s.status for s in store.sweeps()] == ["cancelled"]


async def test_abort_records_the_end_once_from_another_thread(store):
    session = Session(plan_of(CV_EVAL, "1-4"), store=store)
    started = asyncio.Event()
    session.listen(lambda event: isinstance(event, Phase) and event.name == "fit" and started.set())
    running = asyncio.ensure_future(session.run())
    await started.wait()

    aborted = await asyncio.to_thread(session.abort)
    outcome = await running

    assert aborted.status == "cancelled" and outcome is aborted
    assert [s.status for s in store.sweeps()] == ["cancelled"]


async def test_a_store_that_fails_to_write_does_not_stop_the_measurement(store):
    store.close()  # every write now fails
    problems = []
    session = Session(plan_of(CV_EVAL), store=store, on_store_problem=problems.append)

    outcome = await session.run()

    assert outcome.status == "done" and len(outcome.results) == 2
    assert problems and all(str(store.path) in p for p in problems)


def test_a_plan_is_checked_before_anything_runs(store):
    from cpulab.engine.errors import UsageError
    from cpulab.engine.spec import RunOptions

    dask = RunOptions(backend="dask", cluster="local:2")
    with pytest.raises(UsageError, match="a sweep cannot run on Dask"):
        Session(plan_of(CV_EVAL, options=dask), store=store)
    assert store.sweeps() == []


async def test_a_plan_whose_spec_is_over_a_mebibyte_starts():
    # As on a 256-core server: no more cores than the caps allow for one.
    plan = replace(plan_of(CV_EVAL, "1-600", strategy="grid"), available=256)
    spec = plan.spec()
    assert len(json.dumps(spec.to_dict())) > 2**20  # far past what a command line takes

    handle = await Supervisor(spares=False).start(spec)

    async def cancel_once_it_prepares_data(event):
        if isinstance(event, Phase) and event.name == "data":
            await handle.cancel()

    events = await collect(handle, cancel_once_it_prepares_data)
    assert isinstance(events[0], Started)
    data = [e for e in events if isinstance(e, Phase) and e.name == "data"]
    assert data and data[0].point == 0  # the runner read and parsed every point


def _soon(coroutine):
    return asyncio.ensure_future(coroutine)


async def test_a_sweep_cut_short_keeps_every_measured_run_as_partial_points(store):
    session = Session(plan_of(CV_EVAL, repeats=50), store=store)
    partial_runs = []

    def stop_after_a_few_rounds(event):
        if isinstance(event, Result) and event.partial:
            partial_runs.append(event)
            if len(partial_runs) == 6:  # three rounds of both points
                session.stop_soon("interrupted", signal.SIGTERM)

    outcome = await session.listen(stop_after_a_few_rounds).run()

    assert outcome.status == "interrupted" and outcome.results == ()
    kept = {(p.train, p.eval): p for p in outcome.partial}
    assert set(kept) == {(1, 1), (1, 2)}
    stored = store.points()
    assert len(stored) == 2  # one row a point, replaced as each run arrived
    for point in stored:
        result = point.result
        assert result.partial and result.score is None
        assert result == kept[(result.train, result.eval)]
        assert 3 <= len(result.fit_times) < 50
    [sweep] = store.sweeps()
    assert (sweep.status, sweep.n_points) == ("interrupted", 2)


async def test_a_finished_point_replaces_its_partial_row(store):
    outcome = await Session(plan_of(CV_EVAL, repeats=3), store=store).run()

    assert outcome.status == "done" and outcome.partial == ()
    stored = [p.result for p in store.points()]
    assert stored == list(outcome.results)
    assert all(not r.partial and len(r.fit_times) == 3 and r.score is not None for r in stored)


async def test_a_store_deleted_mid_sweep_is_said_not_kept_silently(tmp_path):
    folder = tmp_path / "store"
    folder.mkdir()
    problems = []
    with ResultStore.open(folder / "results.sqlite") as store:
        session = Session(plan_of(CV_EVAL, "1-3"), store=store, on_store_problem=problems.append)

        def delete_after_the_first_point(event):
            if isinstance(event, Result) and folder.exists():
                shutil.rmtree(folder)  # as a clean-up script might, mid-sweep

        outcome = await session.listen(delete_after_the_first_point).run()

    assert outcome.status == "done" and len(outcome.results) == 3
    assert problems and outcome.store_problems == tuple(problems)
    *each, last = problems
    assert all("was deleted or replaced while open: tried again at the end" in p for p in each)
    assert last.endswith("tried again at the end in vain: not saved")


@pytest.fixture
def short_busy_timeout(monkeypatch):
    """Another process's write lock outlasts the store's wait in a moment, not 10 s."""
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT", 0.2)
    monkeypatch.setattr(session_module, "LOCK_PATIENCE", 1.0)


def hold_write_lock(path):
    """A connection holding the store's write lock, as another process's long write."""
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    return holder


async def test_a_store_locked_for_a_while_gets_every_point_into_its_sweep(
    tmp_path, short_busy_timeout
):
    heard = []
    with ResultStore.open(tmp_path / "results.sqlite") as store:
        holder = hold_write_lock(store.path)  # from before the sweep's record
        session = Session(plan_of(CV_EVAL), store=store, on_store_problem=heard.append)

        def release_after_the_first_point(event):
            if isinstance(event, Result) and holder.in_transaction:
                holder.rollback()

        outcome = await session.listen(release_after_the_first_point).run()

        assert outcome.status == "done" and outcome.store_problems == ()
        assert heard and all("tried again at the end" in p for p in heard)
        [sweep] = store.sweeps()
        assert (sweep.id, sweep.status, sweep.n_points) == (outcome.sweep_id, "done", 2)
        # The first point stored last, once the lock was gone: none as a single run.
        by_split = sorted(store.points(), key=lambda p: (p.result.train, p.result.eval))
        assert [p.result for p in by_split] == list(outcome.results)
        assert {p.sweep_id for p in by_split} == {sweep.id}
        holder.close()


async def test_a_store_locked_to_the_end_says_so_and_stores_no_point_outside_its_sweep(
    tmp_path, short_busy_timeout
):
    with ResultStore.open(tmp_path / "results.sqlite") as store:
        holder = hold_write_lock(store.path)
        outcome = await Session(plan_of(CV_EVAL), store=store).run()
        holder.rollback()
        assert outcome.status == "done" and len(outcome.results) == 2
        assert outcome.store_problems[-1].endswith("tried again at the end in vain: not saved")
        assert store.points() == [] and store.sweeps() == []
        holder.close()


async def test_an_abort_stops_the_ends_wait_on_a_locked_store_and_stores_nothing_twice(
    tmp_path, short_busy_timeout, monkeypatch
):
    # The app quitting while the run's end waits for another process's lock: it waits a
    # LOCK_STEP more at most, not LOCK_PATIENCE nor the store's own wait for a lock, and
    # no point goes in twice.
    monkeypatch.setattr(session_module, "LOCK_PATIENCE", 60.0)
    with ResultStore.open(tmp_path / "results.sqlite") as store:
        holder = hold_write_lock(store.path)
        session = Session(plan_of(CV_EVAL), store=store)
        running = asyncio.ensure_future(session.run())
        while not session.ended:
            await asyncio.sleep(0.1)
        # SQLite's own wait for the lock, as long as a quitting app cannot wait, and not cut
        # short by anything: the end's tries must each wait less.
        with store._lock:
            store._conn.execute("PRAGMA busy_timeout = 30000")
        await asyncio.sleep(1.0)  # its end is waiting on the lock now
        started = time.monotonic()
        aborted = await asyncio.to_thread(session.abort)
        assert time.monotonic() - started < 5
        holder.rollback()
        outcome = await running
        assert outcome is aborted and len(outcome.results) == 2
        holder.close()
        assert len(store.points()) <= 2 and len(store.sweeps()) <= 1
