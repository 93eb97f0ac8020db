"""Sweeps of a Dask cluster's size from the app: the sweep dialog asks for worker counts
where the app's runs go to a cluster, and plans what `cpulab sweep --workers` plans."""

import time

import pytest
from textual.widgets import Button, Input, OptionList, RadioSet, Static

from cpulab.cli import parser
from cpulab.engine.events import WorkerLoad
from cpulab.engine.spec import RunOptions
from cpulab.engine.store import ResultStore
from cpulab.engine.sweep import SweepPlan
from cpulab.ui.screens.sweep_dialog import SweepDialog
from cpulab.ui.screens.sweep_summary import WORKERS_CAPTION, SweepSummary
from cpulab.ui.widgets import CoreGrid, ResultsTable, WorkerGrid
from support.tui import ScriptedSupervisor, make_app, sampled, wait_for

LOCAL = RunOptions(backend="dask", cluster="local:2")


def plan_text(dialog: SweepDialog) -> str:
    return " ".join(str(dialog.query_one("#plan", Static).render()).split())


async def open_dialog(pilot, task: str = "cv-eval") -> SweepDialog:
    app = pilot.app
    app.query_one("#tasks", OptionList).highlighted = list(app.catalogue.tasks).index(task)
    await pilot.pause()
    await pilot.press("w")
    await wait_for(pilot, lambda: isinstance(app.screen, SweepDialog))
    await pilot.pause()
    return app.screen


def cli_plan(monkeypatch, *args: str) -> SweepPlan:
    monkeypatch.setattr(parser, "available_cores", lambda: 2)  # the app's fake machine
    # The dialog's scale, repeats and warm-ups as it opens.
    measuring = ["--scale", "small", "--repeats", "3", "--warmup", "1"]
    return parser.plan_from_args(parser.build_parser().parse_args(["sweep", *args, *measuring]))


async def test_on_a_cluster_the_dialog_plans_what_sweep_workers_plans(monkeypatch):
    supervisor = ScriptedSupervisor()
    app = make_app(cores=2, options=LOCAL, supervisor=supervisor)
    async with app.run_test(size=(120, 40)) as pilot:
        dialog = await open_dialog(pilot)
        workers = dialog.query_one("#sweep-workers", Input)
        assert workers.value == "1,2"  # pow2 up to local:2's size
        assert not dialog.query(RadioSet) and not dialog.query("#sweep-cores")
        assert str(dialog.query_one("#sweep-split", Static).render()).startswith("1 x workers")
        assert plan_text(dialog) == "2 points, 4 runs each: 1 and 2 workers (1 x 1, 1 x 2)"
        workers.value = "2,1"
        await pilot.pause()
        grid = app.query_one(WorkerGrid)
        grid.show(WorkerLoad(t=0.0, workers=[{"cpu": 90.0, "threads": 1}] * 2))  # a past run's
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.running)
        assert grid.sample is None  # sampling afresh: the past run's load is not this one's
        plan = app._session.plan
        assert plan == cli_plan(monkeypatch, "cv-eval", "--dask", "local:2", "--workers", "1,2")
        assert plan.options.cluster_workers and plan.strategy == "eval"
        assert plan.cores == (1, 2) and plan.splits() == [(1, 1), (1, 2)]
        # The cluster's workers, not the local cores, while it runs.
        assert app.query_one("#work").has_class("-cluster-live")
        assert app.query_one(WorkerGrid).display and not app.query_one(CoreGrid).display
        [spec] = supervisor.specs
        assert [(p.train, p.eval) for p in spec.points] == [(1, 1), (1, 2)]
        assert {p.options.variant for p in spec.points} == {"dask local:2 by workers"}
        await pilot.press("escape")  # cancels the sweep


async def test_a_training_only_task_puts_the_workers_on_training(monkeypatch):
    app = make_app(cores=2, options=LOCAL, supervisor=ScriptedSupervisor())
    async with app.run_test(size=(120, 40)) as pilot:
        dialog = await open_dialog(pilot, "rf-train")
        assert str(dialog.query_one("#sweep-split", Static).render()).startswith("workers x 1")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.running)
        plan = app._session.plan
        assert plan.splits() == [(1, 1), (2, 1)] and plan.strategy == "train"
        assert plan == cli_plan(monkeypatch, "rf-train", "--dask", "local:2", "--workers", "1,2")


async def test_a_running_cluster_asks_for_the_worker_counts():
    options = RunOptions(backend="dask", cluster="tcp://127.0.0.1:8786")
    app = make_app(cores=2, options=options, supervisor=ScriptedSupervisor())
    async with app.run_test(size=(120, 40)) as pilot:
        dialog = await open_dialog(pilot)
        assert dialog.query_one("#sweep-workers", Input).value == ""
        assert plan_text(dialog) == "✗ give the numbers of workers to sweep, such as 1,2,4"
        await pilot.press(*"1-3")  # a running cluster's size is not known here
        assert plan_text(dialog).startswith("3 points, 4 runs each: 1, 2 and 3 workers")
        assert not dialog.query_one("#sweep-start", Button).disabled


@pytest.mark.parametrize(
    "typed, says",
    [
        ("1,x", "workers: cannot read core count 'x'"),
        ("0,1", "workers: core counts start at 1, not 0"),
        ("2-1", "workers: the range 2-1 runs backwards"),
        ("1,4", "local:2 starts 2 workers: a point of 4 workers needs more"),
        ("9" * 40, "far too large a number"),
        ("", "give the numbers of workers to sweep"),
    ],
)
async def test_bad_worker_counts_are_one_line_in_the_dialog(typed, says):
    app = make_app(cores=2, options=LOCAL, supervisor=ScriptedSupervisor())
    async with app.run_test(size=(120, 40)) as pilot:
        dialog = await open_dialog(pilot)
        dialog.query_one("#sweep-workers", Input).value = typed
        await pilot.pause()
        shown = str(dialog.query_one("#plan", Static).render())
        assert shown.startswith("✗ ") and says in shown and len(shown.splitlines()) == 1
        assert dialog.query_one("#plan").has_class("-error")
        assert dialog.query_one("#sweep-start", Button).disabled
        await pilot.press("enter")  # refused with a bell: the dialog stays
        await pilot.pause()
        assert app.screen is dialog and not app.running


async def test_a_real_cluster_size_sweep_from_the_app(tmp_path):
    started = time.monotonic()
    with ResultStore.open(tmp_path / "results.sqlite") as store:
        app = make_app(cores=2, options=LOCAL, store=store)
        async with app.run_test(size=(120, 40)) as pilot:
            dialog = await open_dialog(pilot)
            dialog.query_one("#sweep-repeats", Input).value = "1"
            dialog.query_one("#sweep-warmup", Input).value = "0"
            await pilot.pause()
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.running)
            assert app.query_one("#work").has_class("-cluster-live")
            await wait_for(pilot, lambda: app.query_one(WorkerGrid).sample, timeout=60)
            assert app.query_one(WorkerGrid).labels == ("w0", "w1")
            await wait_for(pilot, lambda: isinstance(app.screen, SweepSummary), timeout=120)
            summary = app.screen
            assert summary.state == "done", summary.status
            title = "cv-eval [dask local:2 by workers] (small), 1 and 2 workers, sweep 1"
            assert summary.title_text == title
            assert summary.caption == WORKERS_CAPTION
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, SweepSummary))
            assert [(r.train, r.eval) for r in app.results] == [(1, 1), (1, 2)]
            used = [r.details["cluster"]["used_workers"] for r in app.results]
            assert used == [1, 2]
            assert app.query_one(ResultsTable).row_count == 2
            assert not app.query_one("#work").has_class("-cluster-live")
        (sweep,) = store.sweeps()
        assert (sweep.status, sweep.n_points, sweep.strategy) == ("done", 2, "eval")
    print(f"cluster-size sweep from the app: {time.monotonic() - started:.1f} s")


def test_snapshot_the_cluster_size_dialog_80x24(snap_compare):
    async def run_before(pilot):
        await sampled(pilot)
        dialog = await open_dialog(pilot)
        dialog.query_one("#sweep-workers", Input).cursor_blink = False  # drawn the same each time
        await pilot.pause()

    app = make_app(cores=2, options=LOCAL)
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
