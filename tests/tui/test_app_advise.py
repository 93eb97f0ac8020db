"""Advice from the app: the dialog checks what is typed, the search runs its batches as
sweeps the app shows, and the advice is stored and shown as `cpulab advise` prints it."""

import csv
import io
from dataclasses import replace

from textual.widgets import Button, Input, Static

from cpulab.engine.export import EXPORTERS
from cpulab.engine.machine import machine_facts
from cpulab.engine.store import ResultStore
from cpulab.ui.screens.advise import AdviceScreen, AdviseDialog
from support.screens import screen_text
from support.tui import FITTING, ScriptedSupervisor, make_app, make_result, wait_for


def advice_shown(app) -> bool:
    return isinstance(app.screen, AdviceScreen) and "recommended:" in screen_text(app.screen)


async def open_advise_dialog(pilot) -> AdviseDialog:
    await pilot.press("a")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, AdviseDialog))
    return pilot.app.screen


async def test_the_dialog_checks_the_budget_cores_and_blas_as_they_are_typed():
    app = make_app(cores=4)
    async with app.run_test(size=(120, 40)) as pilot:
        dialog = await open_advise_dialog(pilot)
        start = dialog.query_one("#advise-start", Button)
        plan = dialog.query_one("#plan", Static)
        assert not start.disabled and "up to 4" in str(plan.render())
        for field, value, says in [
            ("#advise-budget", "soon", "expected a duration"),
            ("#advise-cores", "0", "at least 1"),
            ("#advise-cores", "9", "9 cores"),
            ("#advise-blas", "0", "core counts start at 1"),
        ]:
            dialog.query_one(field, Input).value = value
            await pilot.pause()
            assert start.disabled and says in str(plan.render()), (field, value)
            dialog.query_one(field, Input).value = {"#advise-budget": "30s",
                                                    "#advise-cores": "2",
                                                    "#advise-blas": ""}[field]  # fmt: skip
            await pilot.pause()
            assert not start.disabled
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, AdviseDialog))
        assert app._advice is None and not app.running


async def test_a_real_search_from_the_app_stores_and_shows_its_advice(tmp_path):
    with ResultStore.open(tmp_path / "results.sqlite") as store:
        # Advice #1, of another session: the app's search must not be drawn as its curve.
        store.add_advice("rf-train", "small", "", "settled", machine_facts(), {"best": {}})
        app = make_app(store=store)
        async with app.run_test(size=(160, 50)) as pilot:
            dialog = await open_advise_dialog(pilot)  # rf-train: training cores only
            dialog.query_one("#advise-budget", Input).value = "10s"
            await pilot.pause()
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.running, timeout=30)
            await wait_for(pilot, lambda: bool(app.workspace.session), timeout=60)
            assert {e.sweep for e in app.workspace.session} == {"advice app 1"}
            await wait_for(pilot, lambda: advice_shown(app), timeout=120)
            text = screen_text(app.screen)
            assert "recommended: training" in text and "in code:" in text
            assert "estimator: n_jobs=" in text
            assert app._advice is None and not app.running
            assert {(r.train, r.eval) for r in app.results} >= {(1, 1), (2, 1)}
            shown = {e.point_id: app._speedups.get(id(e)) for e in app._shown}
            # Stored, the search is advice #2, as the next session's history names it.
            assert {e.sweep for e in app.workspace.session} == {"advice 2"}
        # The next app session loads them from the store, with the same speedups.
        again = make_app(store=store)
        async with again.run_test(size=(160, 50)) as pilot:
            await wait_for(pilot, lambda: len(again._shown) == len(shown))
            loaded = {e.point_id: again._speedups.get(id(e)) for e in again._shown}
            again_labels = {e.sweep for e in again._shown}
        earlier, advice = sorted(store.advice(), key=lambda a: a.id)
        sweeps = store.sweeps()
        exported = list(csv.DictReader(io.StringIO("".join(EXPORTERS["csv"](store)))))
    assert advice.task == "rf-train" and advice.status in ("settled", "budget")
    assert (earlier.id, advice.id) == (1, 2) and again_labels == {"advice 2"}
    assert advice.record["sweeps"] == [s.id for s in sweeps]
    assert {s.strategy for s in sweeps} == {"advise"}
    # The table's speedups are the export's: each batch's points against its own 1 x 1.
    assert len(sweeps) >= 2 and set(shown) == {int(row["point_id"]) for row in exported}
    for row in exported:
        for speedup in (shown[int(row["point_id"])], loaded[int(row["point_id"])]):
            if row["speedup"] == "":
                assert speedup is None, row
            else:
                assert speedup is not None and f"{speedup.value:.4g}" == row["speedup"], row


async def test_cancelling_a_search_keeps_what_it_measured_and_says_so(tmp_path):
    first = replace(make_result("rf-train", 2, 1, 0.2), machine=machine_facts())
    supervisor = ScriptedSupervisor((*FITTING, first))  # then it runs until cancelled
    with ResultStore.open(tmp_path / "results.sqlite") as store:
        app = make_app(store=store, supervisor=supervisor)
        async with app.run_test(size=(120, 40)) as pilot:
            await open_advise_dialog(pilot)
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.results == [first])
            await pilot.press("r")  # no other run while the search goes
            assert len(supervisor.specs) == 1
            await pilot.press("c")
            await wait_for(pilot, lambda: advice_shown(app))
            text = screen_text(app.screen)
            assert "recommended: training 2 x evaluation 1" in text
            assert "search: cancelled after" in text and "the search was cancelled" in text
            await pilot.press("escape")
            await pilot.press("r")  # the search is over: runs may start again
            await wait_for(pilot, lambda: len(supervisor.specs) == 2)
        [advice] = store.advice()
        (sweep,) = store.sweeps()
    assert advice.status == "cancelled" and (sweep.status, sweep.n_points) == ("cancelled", 1)
