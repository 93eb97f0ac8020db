"""Sweeps started from the app, results kept in the store, and history shown at start."""

import sqlite3
import sys
import threading
from contextlib import closing
from dataclasses import replace

import pytest
from textual.widgets import Button, Input, OptionList, RadioSet, Static

from cpulab.engine import session as session_module
from cpulab.engine import store as store_module
from cpulab.engine.events import Event, Phase, Started
from cpulab.engine.machine import machine_facts
from cpulab.engine.memory import machine_limit, model_for
from cpulab.engine.plugins import Catalogue
from cpulab.engine.presentation import memory_line
from cpulab.engine.store import ResultStore
from cpulab.engine.supervisor import Supervisor
from cpulab.ui import app as app_module
from cpulab.ui.screens.confirm import Confirm
from cpulab.ui.screens.sweep_dialog import SweepDialog
from cpulab.ui.screens.sweep_summary import SweepSummary
from cpulab.ui.widgets import ResultsTable, RunStatus, ScalingChart
from support.faulty_workloads import catalogue as faulty_tasks
from support.store import damage_a_points_page
from support.tui import FITTING, ScriptedSupervisor, make_app, make_result, wait_for


class FinishingHandle:
    pid = 4242

    def __init__(self, events: tuple[Event, ...]):
        self._events = events
        self.finished = False

    async def events(self):
        for event in self._events:
            yield event
        self.finished = True

    async def cancel(self) -> None:
        pass

    def kill(self) -> None:
        pass


class FinishingSupervisor(Supervisor):
    """Plays a whole run: its events end with the final one."""

    def __init__(self, *events: Event):
        super().__init__(spares=False)
        self.events = (Started(pid=4242, pgid=4242, t=0.0), Phase(name="fit", t=0.0), *events)

    async def start(self, spec):
        return FinishingHandle(self.events)


def here(result):
    return replace(result, machine=machine_facts())


async def test_history_of_this_machine_is_shown_at_start(tmp_path):
    with ResultStore.open(tmp_path / "history.sqlite") as store:
        store.add_point(here(make_result("rf-train", 1, 1, 2.0)))
        store.add_point(here(make_result("rf-train", 2, 1, 1.1)))
        elsewhere = {**machine_facts(), "hostname": "another-host"}
        store.add_point(replace(make_result("cv-eval", 1, 2, 0.5), machine=elsewhere))
        app = make_app(store=store)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: len(app.results) == 2)
            assert app.query_one(ResultsTable).row_count == 2
            assert [e.result.cores_used for e in app.query_one(ScalingChart).results] == [1, 2]
            assert any("earlier" in str(n.title).lower() for n in app._notifications)


async def test_the_app_reads_only_the_newest_history_of_this_machine(tmp_path, monkeypatch):
    monkeypatch.setattr(app_module, "HISTORY_LIMIT", 3)
    elsewhere = {**machine_facts(), "hostname": "another-host"}
    with ResultStore.open(tmp_path / "history.sqlite") as store:
        mine = [store.add_point(here(make_result("rf-train", t, 1, 2.0 / t))) for t in (1, 2, 4, 8)]
        for t in (1, 2, 4, 8):  # newer, of another machine
            store.add_point(replace(make_result("cv-eval", 1, t, 0.5), machine=elsewhere))
        read = []
        parse = ResultStore._result
        monkeypatch.setattr(
            ResultStore, "_result", lambda self, *a: read.append(a[0]) or parse(self, *a)
        )
        app = make_app(store=store)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: len(app.results) == 3)
            await pilot.pause()
            assert [r.train for r in app.results] == [2, 4, 8]  # oldest first, as they ran
            assert sorted(read) == mine[1:]  # nothing else was read


async def test_damage_met_loading_the_history_is_said_and_the_lab_goes_on(tmp_path, monkeypatch):
    from cpulab.engine import store as store_module

    monkeypatch.setattr(store_module, "FULL_CHECK_BYTES", 0)  # as a store too large to check
    path = tmp_path / "large.sqlite"
    with ResultStore.open(path) as store:
        for t in range(60):
            store.add_point(here(make_result("rf-train", 1 + t % 2, 1, 1.0)))
    damage_a_points_page(path)
    with ResultStore.open(path) as store:
        app = make_app(store=store)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app._notifications)
            [note] = [str(n.message) for n in app._notifications]
            assert note.endswith("is damaged: database disk image is malformed")
            assert app.results == [] and app.is_running


async def test_each_result_is_stored_as_it_arrives(tmp_path):
    result = here(make_result("rf-train", 1, 1, 0.2))
    with ResultStore.open(tmp_path / "results.sqlite") as store:
        app = make_app(store=store, supervisor=FinishingSupervisor(result))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("r")
            await wait_for(pilot, lambda: app.results and not app.running)
        (stored,) = store.points()
        assert stored.result == result and stored.sweep_id is None


async def open_sweep_dialog(pilot) -> SweepDialog:
    await pilot.press("w")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, SweepDialog))
    return pilot.app.screen


async def test_the_sweep_dialog_checks_the_plan_as_it_is_typed():
    app = make_app(cores=4)
    async with app.run_test(size=(120, 40)) as pilot:
        dialog = await open_sweep_dialog(pilot)  # rf-train: training cores only
        strategies = [b.name for b in dialog.query_one(RadioSet).query("RadioButton")]
        assert strategies == ["train", "grid"]
        plan = dialog.query_one("#plan", Static)
        assert "3 points, 4 runs each: 1 x 1, 2 x 1, 4 x 1" in str(plan.render())
        dialog.query_one("#sweep-cores", Input).value = "3-1"
        await pilot.pause()
        assert "runs backwards" in str(plan.render())
        assert dialog.query_one("#sweep-start", Button).disabled
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, SweepDialog))
        assert not app.running


async def test_a_real_sweep_from_the_app_lands_with_statistics_and_a_fit(tmp_path):
    heavy_before = {m for m in sys.modules if m.partition(".")[0] == "sklearn"}
    with ResultStore.open(tmp_path / "results.sqlite") as store:
        app = make_app(store=store)
        async with app.run_test(size=(160, 50)) as pilot:
            dialog = await open_sweep_dialog(pilot)
            dialog.query_one("#sweep-cores", Input).value = "1,2"
            dialog.query_one("#sweep-warmup", Input).value = "0"
            await pilot.pause()
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.running)
            await wait_for(pilot, lambda: not app.running, timeout=90)
            assert [(r.train, r.eval) for r in app.results] == [(1, 1), (2, 1)]
            assert all(len(r.fit_times) == 3 for r in app.results)
            # The sweep's summary, as `cpulab sweep` ends, until Escape closes it: with
            # its line of what the task's stored runs need in memory, as the CLI's has.
            await wait_for(pilot, lambda: isinstance(app.screen, SweepSummary))
            lines = [str(w.content) for w in app.screen.query(Static)]
            memory = memory_line(model_for(store, "rf-train", "small", ""), machine_limit(), 2)
            assert memory is not None and memory in lines
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, SweepSummary))
            table = app.query_one(ResultsTable)
            assert table.row_count == 2
            assert str(table.cells(1)[5]) == "3"  # runs behind each median
            chart = app.query_one(ScalingChart)
            drawn = chart.plt.uncolorize(chart.plt.build())
            assert "fit: serial" in drawn and "ideal" in drawn
        (sweep,) = store.sweeps()
        assert (sweep.status, sweep.n_points, sweep.strategy) == ("done", 2, "train")
    assert {m for m in sys.modules if m.partition(".")[0] == "sklearn"} == heavy_before


async def start_sweep(pilot, cores: str = "1,2") -> None:
    dialog = await open_sweep_dialog(pilot)
    dialog.query_one("#sweep-cores", Input).value = cores
    dialog.query_one("#sweep-repeats", Input).value = "1"
    dialog.query_one("#sweep-warmup", Input).value = "0"
    await pilot.pause()
    await pilot.press("enter")
    await wait_for(pilot, lambda: not isinstance(pilot.app.screen, SweepDialog))


async def test_a_sweep_whose_runner_raises_is_stored_as_failed(tmp_path, child_env):
    catalogue = Catalogue()
    catalogue.tasks.update(faulty_tasks())
    with ResultStore.open(tmp_path / "results.sqlite") as store:
        app = make_app(
            store=store, catalogue=catalogue, supervisor=Supervisor(env=child_env, spares=False)
        )
        async with app.run_test(size=(120, 40)) as pilot:
            app.query_one("#tasks", OptionList).highlighted = list(catalogue.tasks).index(
                "fault-raises"
            )
            await pilot.pause()
            await start_sweep(pilot)
            await wait_for(pilot, lambda: app._session.outcome is not None, timeout=60)
            assert app.query_one(RunStatus).has_class("-failed")
        (sweep,) = store.sweeps()
        assert (sweep.status, sweep.error) == ("failed", "ValueError: the model refused to fit")


async def test_cancelling_a_sweep_keeps_its_points_and_marks_it_cancelled(tmp_path):
    first = here(make_result("rf-train", 1, 1, 0.2))
    supervisor = ScriptedSupervisor((*FITTING, first))  # then it runs until cancelled
    with ResultStore.open(tmp_path / "results.sqlite") as store:
        app = make_app(store=store, supervisor=supervisor)
        async with app.run_test(size=(120, 40)) as pilot:
            await start_sweep(pilot)
            await wait_for(pilot, lambda: app.results == [first])
            await pilot.press("c")
            await wait_for(pilot, lambda: not app.running)
            assert app.query_one(RunStatus).has_class("-cancelled")
        (sweep,) = store.sweeps()
        assert (sweep.status, sweep.n_points) == ("cancelled", 1)
        assert [p.result for p in store.points()] == [first]


class SweepSupervisor(Supervisor):
    """Plays a sweep to its end: each point's result, of the point's own split."""

    def __init__(self):
        super().__init__(spares=False)

    async def start(self, spec):
        results = (
            here(make_result(p.task.name, p.train, p.eval, 1 / p.train)) for p in spec.points
        )
        return FinishingHandle((Started(pid=4242, pgid=4242, t=0.0), *results))


async def test_points_another_process_kept_from_the_store_get_their_rows_at_the_end(
    tmp_path, monkeypatch
):
    # Another process holds the store's write lock until both points are measured: the
    # sweep and its points are stored at its end, and their entries learn where, so that
    # `d` finds them and they form the stored sweep's series.
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT", 0.2)
    monkeypatch.setattr(session_module, "LOCK_PATIENCE", 30.0)
    with ResultStore.open(tmp_path / "results.sqlite") as store:
        holder = sqlite3.connect(store.path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        app = make_app(store=store, supervisor=SweepSupervisor())
        async with app.run_test(size=(120, 40)) as pilot:
            await start_sweep(pilot)
            await wait_for(pilot, lambda: len(app.workspace.session) == 2)
            assert [e.point_id for e in app.workspace.session] == [None, None]
            holder.rollback()
            await wait_for(pilot, lambda: not app.running, timeout=30)
            (sweep,) = store.sweeps()
            assert (sweep.status, sweep.n_points) == ("done", 2)
            entries = app.workspace.session
            assert [e.point_id for e in entries] == [p.id for p in store.points()]
            assert {e.sweep for e in entries} == {str(sweep.id)}
            await pilot.press("escape")  # the sweep's summary
            await wait_for(pilot, lambda: not isinstance(app.screen, SweepSummary))
            app.query_one(ResultsTable).focus()
            await pilot.press("d")
            await wait_for(pilot, lambda: isinstance(app.screen, Confirm))
            await pilot.click("#go")
            await wait_for(pilot, lambda: len(store.points()) == 1)
        holder.close()


async def test_quitting_mid_sweep_marks_it_cancelled_off_the_ui_thread(tmp_path):
    supervisor = ScriptedSupervisor()  # runs until cancelled
    with ResultStore.open(tmp_path / "results.sqlite") as store:
        app = make_app(store=store, supervisor=supervisor)
        async with app.run_test(size=(120, 40)) as pilot:
            await start_sweep(pilot)
            await wait_for(pilot, lambda: app.running)
            writes: list[str] = []
            finish = store.finish_sweep
            store.finish_sweep = lambda *a: (
                writes.append(threading.current_thread().name) or finish(*a)
            )
            await pilot.press("q")
        assert writes and "MainThread" not in writes
        assert [s.status for s in store.sweeps()] == ["cancelled"]


async def test_an_unreadable_row_is_skipped_and_named(tmp_path):
    path = tmp_path / "results.sqlite"
    with ResultStore.open(path) as store:
        good = store.add_point(here(make_result("rf-train", 1, 1, 2.0)))
        bad = store.add_point(here(make_result("rf-train", 2, 1, 1.1)))
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute('UPDATE points SET result = \'{"event": "result"}\' WHERE id = ?', (bad,))
    with ResultStore.open(path) as store:
        app = make_app(store=store)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: len(app.results) == 1)
            notes = [str(n.message) for n in app._notifications]
            assert any(f"point {bad} cannot be read" in note for note in notes)
            await pilot.press("r")  # and the lab goes on
            await wait_for(pilot, lambda: app.running)
        assert list(store.unreadable) == [bad] and good not in store.unreadable


@pytest.mark.parametrize("sample_hz", [0.2, 4.0])
async def test_the_status_follows_a_sweep_to_its_next_point_after_a_result(tmp_path, sample_hz):
    # The result goes through the app's messages; the next point's phase is drawn on a
    # sample, or at once where samples are slow: it must not end under the result, to
    # wait there for the status's next redraw (5 s at 0.2 Hz).
    first = here(make_result("rf-train", 1, 1, 0.2))
    events = (*FITTING, first, Phase(name="fit", t=0.0, repeat=1, point=1))
    with ResultStore.open(tmp_path / "results.sqlite") as store:
        app = make_app(store=store, supervisor=ScriptedSupervisor(events), sample_hz=sample_hz)
        async with app.run_test(size=(120, 40)) as pilot:
            await start_sweep(pilot)
            status = app.query_one(RunStatus)
            await wait_for(pilot, lambda: app.results == [first])
            # The run panel is 40 columns here: the point said short, not wrapped.
            head = "● point 2/2: rf-train 2 x 1 · "
            await wait_for(pilot, lambda: str(status.render()).startswith(head), timeout=1.0)
            assert str(status.render()).splitlines()[0].endswith(" s")
            assert not status.has_class("-done")
            await pilot.press("c")
            await wait_for(pilot, lambda: not app.running)
