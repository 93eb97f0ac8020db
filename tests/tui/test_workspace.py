"""The results workspace in the app: what is shown, filtered, hidden, deleted and undone."""

import time
from dataclasses import replace

from textual.widgets import Checkbox, Select

from cpulab.engine.machine import machine_facts
from cpulab.engine.store import ResultStore
from cpulab.ui.scaling import speedups
from cpulab.ui.screens.confirm import Confirm
from cpulab.ui.screens.filters import FilterDialog
from cpulab.ui.screens.result_details import ResultDetails
from cpulab.ui.widgets import ResultsTable, ScalingChart
from cpulab.ui.workspace import Filters
from support.tui import make_app, make_result, wait_for


def here(result):
    return replace(result, machine=machine_facts())


def rows(app) -> list[tuple[str, int, int]]:
    return [(r.task, r.train, r.eval) for r in app.results]


def fill(store: ResultStore) -> dict[str, list[int]]:
    """Two tasks' history on this machine; a sweep of cv-eval."""
    ids = {"rf-train": [], "cv-eval": []}
    for t in (1, 2):
        ids["rf-train"].append(store.add_point(here(make_result("rf-train", t, 1, 2.0 / t))))
    sweep = store.start_sweep("cv-eval", "small", "eval", [1, 2], 1, 0, machine_facts())
    for e in (1, 2):
        ids["cv-eval"].append(store.add_point(here(make_result("cv-eval", 1, e, 4.0 / e)), sweep))
    store.finish_sweep(sweep, "done")
    return ids


async def test_the_history_shown_follows_the_task_chosen(tmp_path):
    with ResultStore.open(tmp_path / "results.sqlite") as store:
        fill(store)
        app = make_app(store=store)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: len(app.results) == 2)
            assert rows(app) == [("rf-train", 1, 1), ("rf-train", 2, 1)]
            chart = app.query_one(ScalingChart)
            assert "this session + rf-train history" in str(chart.border_title)
            app.query_one("#tasks").highlighted = list(app.catalogue.tasks).index("cv-eval")
            await wait_for(pilot, lambda: rows(app) == [("cv-eval", 1, 1), ("cv-eval", 1, 2)])
            assert "cv-eval history" in str(chart.border_title)
            # The sweep's speedup is the CLI's: against its own 1 x 1.
            table = app.query_one(ResultsTable)
            assert str(table.cells(1)[6]) == "2.00x"


async def test_a_hidden_1x1_is_still_the_baseline_of_its_sweeps_other_points(tmp_path):
    with ResultStore.open(tmp_path / "results.sqlite") as store:
        fill(store)
        app = make_app(store=store)
        async with app.run_test(size=(120, 40)) as pilot:
            app.query_one("#tasks").highlighted = list(app.catalogue.tasks).index("cv-eval")
            await wait_for(pilot, lambda: rows(app) == [("cv-eval", 1, 1), ("cv-eval", 1, 2)])
            table = app.query_one(ResultsTable)
            table.focus()
            await pilot.press("up", "h")  # the 1 x 1, above the newest
            await wait_for(pilot, lambda: rows(app) == [("cv-eval", 1, 2)])
            assert str(table.cells(0)[6]) == "2.00x"
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, ResultDetails))
            assert app.screen.speedup is not None and app.screen.speedup.value == 2.0


async def test_filters_choose_a_task_and_a_sweep_and_say_so_in_the_title(tmp_path):
    with ResultStore.open(tmp_path / "results.sqlite") as store:
        fill(store)
        app = make_app(store=store)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: len(app.results) == 2)
            await pilot.press("f")
            await wait_for(pilot, lambda: isinstance(app.screen, FilterDialog))
            app.screen.query_one("#filter-task", Select).value = "cv-eval"
            await pilot.pause()  # the sweeps to choose from are now cv-eval's
            app.screen.query_one("#filter-sweep", Select).value = "1"
            await pilot.click("#filter-apply")
            await wait_for(pilot, lambda: rows(app) == [("cv-eval", 1, 1), ("cv-eval", 1, 2)])
            title = str(app.query_one(ScalingChart).border_title)
            assert "cv-eval" in title and "sweep 1" in title
            assert app.query_one("#results").border_title == "Results · cv-eval, sweep 1"
            # Escape closes the dialog and changes nothing.
            await pilot.press("f")
            await wait_for(pilot, lambda: isinstance(app.screen, FilterDialog))
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, FilterDialog))
            assert len(app.results) == 2


async def test_the_sweeps_to_filter_by_are_the_chosen_tasks(tmp_path):
    with ResultStore.open(tmp_path / "results.sqlite") as store:
        fill(store)  # sweep 1 is of cv-eval
        rf_sweep = store.start_sweep("rf-train", "small", "train", [1, 2], 1, 0, machine_facts())
        store.add_point(here(make_result("rf-train", 1, 1, 2.0)), rf_sweep)
        store.finish_sweep(rf_sweep, "done")
        app = make_app(store=store)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: len(app.results) == 3)
            await pilot.press("f")
            await wait_for(pilot, lambda: isinstance(app.screen, FilterDialog))
            dialog = app.screen

            def sweeps() -> list[str]:
                select = dialog.query_one("#filter-sweep", Select)
                return [str(label).split(":")[0] for label, _ in select._options]

            assert sweeps() == ["any", f"sweep {rf_sweep}"]  # rf-train's, the list's task
            dialog.query_one("#filter-sweep", Select).value = str(rf_sweep)
            dialog.query_one("#filter-task", Select).value = "cv-eval"
            await wait_for(pilot, lambda: sweeps() == ["any", "sweep 1"])
            # The rf-train sweep chosen is no choice for cv-eval: any, not an empty view.
            assert dialog.chosen().sweep is None
            dialog.query_one("#filter-sweep", Select).value = "1"
            await pilot.click("#filter-apply")
            await wait_for(pilot, lambda: rows(app) == [("cv-eval", 1, 1), ("cv-eval", 1, 2)])


async def test_the_dialog_keeps_the_filters_own_sweep_and_variant_among_its_choices(tmp_path):
    """Whatever is in view: a sweep of another task than the list's, a variant no result
    shown has, a sweep of this session no longer listed. Apply, untouched, keeps them."""
    with ResultStore.open(tmp_path / "results.sqlite") as store:
        fill(store)  # sweep 1 is of cv-eval; the list's task is rf-train
        app = make_app(store=store)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: len(app.results) == 2)
            for kept in (Filters(sweep="1"), Filters(variant="v1", sweep="app 9")):
                app.workspace.filters = kept
                await pilot.press("f")
                await wait_for(pilot, lambda: isinstance(app.screen, FilterDialog))
                await pilot.pause()
                assert app.screen.chosen() == kept
                await pilot.click("#filter-apply")
                await wait_for(pilot, lambda: not isinstance(app.screen, FilterDialog))
                assert app.workspace.filters == kept


async def test_a_sweep_filter_on_a_stored_advice_search_reads_all_its_batches(tmp_path):
    with ResultStore.open(tmp_path / "results.sqlite") as store:
        fill(store)
        batches = []
        for splits in (((1, 1), (2, 1)), ((2, 1),)):  # the curve, then a split again
            sweep = store.start_sweep("rf-train", "small", "advise", [1, 2], 1, 0, machine_facts())
            for t, e in splits:
                store.add_point(here(make_result("rf-train", t, e, 2.0 / t)), sweep)
            store.finish_sweep(sweep, "done")
            batches.append(sweep)
        record = {"best": {}, "sweeps": batches}
        advice = store.add_advice("rf-train", "small", "", "settled", machine_facts(), record)
        app = make_app(store=store)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: len(app.results) == 5)
            app.workspace.filters = Filters(sweep=f"advice {advice}")
            app._show_results()
            app._want_history()
            batch_rows = [("rf-train", 1, 1), ("rf-train", 2, 1), ("rf-train", 2, 1)]
            await wait_for(pilot, lambda: rows(app) == batch_rows)
            assert {e.batch for e in app._shown} == {str(b) for b in batches}


async def test_hide_clear_and_show_again(tmp_path):
    with ResultStore.open(tmp_path / "results.sqlite") as store:
        ids = fill(store)
        app = make_app(store=store)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: len(app.results) == 2)
            app.query_one(ResultsTable).focus()
            await pilot.press("h")  # the newest row is selected
            await wait_for(pilot, lambda: rows(app) == [("rf-train", 1, 1)])
            said = [n.message for n in app._notifications]
            assert said[-1] == (
                f"Hidden rf-train 2 x 1 (point {ids['rf-train'][1]}): f shows hidden results again."
            )
            assert "1 hidden" in str(app.query_one(ScalingChart).border_title)
            assert app.query_one("#results").border_title == "Results · 1 hidden"
            await pilot.press("h")  # the last one too: the chart says why it is empty
            await wait_for(pilot, lambda: rows(app) == [])
            chart = app.query_one(ScalingChart)
            assert "2 hidden: f shows them again" in str(chart.render())
            app.workspace.show_hidden()
            app.workspace.hide([e for e in app.workspace.history if e.result.train == 2])
            app._show_results()
            await wait_for(pilot, lambda: rows(app) == [("rf-train", 1, 1)])
            # A filter the hidden result is outside of says nothing of it.
            app.workspace.filters = replace(app.workspace.filters, task="digits-svc")
            app._show_results()
            assert app.query_one("#results").border_title == "Results · digits-svc"
            assert "hidden" not in str(app.query_one(ScalingChart).border_title)
            app.workspace.filters = replace(app.workspace.filters, task=None)
            app._show_results()
            assert app.query_one("#results").border_title == "Results · 1 hidden"
            await pilot.press("f")
            await wait_for(pilot, lambda: isinstance(app.screen, FilterDialog))
            app.screen.query_one("#filter-unhide", Checkbox).value = True
            await pilot.click("#filter-apply")
            await wait_for(pilot, lambda: len(app.results) == 2)
            # Clearing the session leaves the history alone.
            for result in (make_result("cv-eval", 1, 1, 3.0), make_result("cv-eval", 1, 2, 2.0)):
                app.workspace.add(app._session_entry(result))
            app._show_results()
            assert len(app.results) == 4
            await pilot.press("x")
            await wait_for(pilot, lambda: len(app.results) == 2)
            said = [n.message for n in app._notifications]
            assert (
                said[-1] == "Cleared 2 results of this session from view; they stay in the store."
            )
            app.workspace.add(app._session_entry(make_result("cv-eval", 2, 1, 2.0)))
            await pilot.press("x")
            said = [n.message for n in app._notifications]
            assert said[-1] == "Cleared 1 result of this session from view; it stays in the store."


async def test_delete_asks_marks_the_point_deleted_and_undo_brings_it_back(tmp_path, monkeypatch):
    with ResultStore.open(tmp_path / "results.sqlite") as store:
        ids = fill(store)
        app = make_app(store=store)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: len(app.results) == 2)
            app.query_one(ResultsTable).focus()
            await pilot.press("d")
            await wait_for(pilot, lambda: isinstance(app.screen, Confirm))
            await pilot.press("enter")  # Keep has the focus: nothing is deleted
            await wait_for(pilot, lambda: not isinstance(app.screen, Confirm))
            assert len(app.results) == 2 and len(store.points()) == 4
            await pilot.press("d")
            await wait_for(pilot, lambda: isinstance(app.screen, Confirm))
            await pilot.click("#go")
            await wait_for(pilot, lambda: rows(app) == [("rf-train", 1, 1)])
            assert [p.id for p in store.points(deleted=True)] == [ids["rf-train"][1]]
            await pilot.press("d")  # then the other: u undoes each in turn, the last first
            await wait_for(pilot, lambda: isinstance(app.screen, Confirm))
            await pilot.click("#go")
            await wait_for(pilot, lambda: rows(app) == [])
            await pilot.press("u")
            await wait_for(pilot, lambda: rows(app) == [("rf-train", 1, 1)])
            assert [p.id for p in store.points(deleted=True)] == [ids["rf-train"][1]]
            await pilot.press("u")
            await wait_for(pilot, lambda: len(app.results) == 2)
            assert store.points(deleted=True) == []
            assert rows(app) == [("rf-train", 1, 1), ("rf-train", 2, 1)]
            await pilot.press("u")
            said = lambda: [n.message for n in app._notifications]  # noqa: E731
            await wait_for(pilot, lambda: "Nothing deleted to undo." in said())
            for _ in range(2):  # both again, then u twice at once: each undoes its own
                await pilot.press("d")
                await wait_for(pilot, lambda: isinstance(app.screen, Confirm))
                await pilot.click("#go")
                await wait_for(pilot, lambda: not isinstance(app.screen, Confirm))
            await wait_for(pilot, lambda: rows(app) == [])
            restore = ResultStore.restore_points

            def slowly(self, ids):  # as a store refitting a sweep's model takes a while
                time.sleep(0.3)
                return restore(self, ids)

            monkeypatch.setattr(ResultStore, "restore_points", slowly)
            await pilot.press("u", "u")
            await wait_for(pilot, lambda: len(app.results) == 2)
            assert store.points(deleted=True) == [] and app.is_running


async def test_enter_on_a_row_opens_its_details_with_the_baseline(tmp_path):
    with ResultStore.open(tmp_path / "results.sqlite") as store:
        ids = fill(store)
        app = make_app(store=store)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: len(app.results) == 2)
            app.query_one(ResultsTable).focus()
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, ResultDetails))
            details = app.screen
            assert details.point.point_id == ids["rf-train"][1]
            assert details.speedup is not None and details.speedup.value == 2.0
            assert details.speedup.baseline.point_id == ids["rf-train"][0]
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, ResultDetails))


async def test_the_app_shows_a_cli_sweep_with_the_speedups_the_cli_reported(tmp_path):
    import json

    from support.cli import cpulab

    db = tmp_path / "results.sqlite"
    swept = cpulab(
        "sweep", "cv-eval", "--cores", "1,2", "--strategy", "grid", "--repeats", "2",
        "--warmup", "0", "--json", "--db", str(db),
    )  # fmt: skip
    assert swept.returncode == 0, swept.stderr
    reported = {
        (p["train"], p["eval"]): p["speedup"]
        for p in json.loads(swept.stdout)["analysis"]["points"]
    }
    with ResultStore.open(db) as store:
        app = make_app(store=store)
        async with app.run_test(size=(120, 40)) as pilot:
            app.query_one("#tasks").highlighted = list(app.catalogue.tasks).index("cv-eval")
            await wait_for(pilot, lambda: len(app.results) == len(reported))
            table = app.query_one(ResultsTable)
            cells = {
                (r.train, r.eval): str(table.cells(i)[6]).rstrip("?")
                for i, r in enumerate(app.results)
            }
            found = speedups(app._shown)
            values = {(e.result.train, e.result.eval): found[id(e)].value for e in app._shown}
    assert values == reported  # the same numbers, to the last bit
    assert cells == {split: f"{value:.2f}x" for split, value in reported.items()}


async def test_a_machine_filter_reads_that_machines_history(tmp_path):
    elsewhere = {**machine_facts(), "hostname": "workstation"}
    with ResultStore.open(tmp_path / "results.sqlite") as store:
        fill(store)
        for t in (1, 4):
            store.add_point(replace(make_result("rf-train", t, 1, 4.0 / t), machine=elsewhere))
        there = next(m.id for m in store.machines() if m.hostname == "workstation")
        app = make_app(store=store)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: len(app.results) == 2)
            await pilot.press("f")
            await wait_for(pilot, lambda: isinstance(app.screen, FilterDialog))
            app.screen.query_one("#filter-machine", Select).value = there
            await pilot.click("#filter-apply")
            await wait_for(pilot, lambda: rows(app) == [("rf-train", 1, 1), ("rf-train", 4, 1)])
            assert "workstation" in str(app.query_one(ScalingChart).border_title)
