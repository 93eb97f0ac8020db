"""Real runs from the app: a small task to the end, a cancel, a quit and a failure."""

import subprocess
import sys
import time
from pathlib import Path

import psutil

from cpulab.engine.store import ResultStore
from cpulab.engine.supervisor import Supervisor
from cpulab.ui.widgets import ResultsTable, RunStatus, ScalingChart
from support.tui import make_app, wait_for

HEAVY = ("sklearn", "joblib", "numpy", "scipy")
FAILING_RUNNER = Path(__file__).parents[1] / "support" / "failing_runner.py"


def alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def heavy_modules() -> set[str]:
    return {name for name in sys.modules if name.partition(".")[0] in HEAVY}


async def test_a_real_small_run_lands_in_the_table_and_on_the_chart():
    before = heavy_modules()
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("r")  # rf-train, 1 x 1, small
        await wait_for(pilot, lambda: not app.running, timeout=60)
        assert app.query_one(RunStatus).has_class("-done"), app.query_one(RunStatus).render()
        table = app.query_one(ResultsTable)
        assert table.row_count == 1
        assert str(table.cells(0)[0]) == "rf-train"
        chart = app.query_one(ScalingChart)
        assert [e.result.cores_used for e in chart.results] == [1]
        assert "●" in chart.plt.uncolorize(chart.plt.build())
    assert heavy_modules() == before  # the UI process never imported scikit-learn


async def running_tree(pilot, task_keys: tuple[str, ...]) -> list[psutil.Process]:
    """Start cv-eval at 1 x 2 and return its process tree once the workers exist."""
    app = pilot.app
    await pilot.press(*task_keys)
    app.query_one("#eval").value = "2"
    await pilot.press("r")
    tree: list[psutil.Process] = []

    def workers_started() -> bool:
        if app._session is None or app._phase is None or app._phase.name not in ("workers", "fit"):
            return False
        root = psutil.Process(app._session.pid)
        tree[:] = [root, *root.children(recursive=True)]
        return len(tree) >= 3

    await wait_for(pilot, workers_started, timeout=60)
    return tree


async def test_cancel_mid_run_stops_every_process_within_two_seconds():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        tree = await running_tree(pilot, ("down",))
        pressed = time.monotonic()
        await pilot.press("c")
        await wait_for(pilot, lambda: not any(alive(p) for p in tree), timeout=2)
        assert time.monotonic() - pressed < 2
        await wait_for(pilot, lambda: not app.running, timeout=5)
        assert app.query_one(RunStatus).has_class("-cancelled")


async def test_quitting_mid_run_leaves_no_process_behind():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        tree = await running_tree(pilot, ("down",))
        await pilot.press("q")
    assert [p for p in tree if alive(p)] == []


async def test_a_failing_task_shows_a_readable_error_and_the_app_keeps_working():
    supervisor = Supervisor(command=(sys.executable, str(FAILING_RUNNER)))
    app = make_app(supervisor=supervisor)
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(2):  # a second run after the failure works the same way
            await pilot.press("r")
            await wait_for(pilot, lambda: not app.running, timeout=30)
            status = app.query_one(RunStatus)
            assert status.has_class("-failed")
            assert "ValueError: the workload refused to build" in str(status.render())
        assert not app.query_one("#run").disabled
        messages = [n.message for n in app._notifications]
        assert "ValueError: the workload refused to build" in messages


async def test_a_run_whose_store_was_deleted_says_not_saved_after_its_result(tmp_path):
    path = tmp_path / "results.sqlite"
    with ResultStore.open(path) as store:
        app = make_app(store=store)
        async with app.run_test(size=(120, 40)) as pilot:
            for file in tmp_path.glob("results.sqlite*"):
                file.unlink()
            path.mkdir()  # as a user's cleanup, or another tool, might leave it
            await pilot.press("r")
            await wait_for(pilot, lambda: not app.running, timeout=60)
            status = app.query_one(RunStatus)
            shown = str(status.render())
            assert status.has_class("-done") and shown.startswith("✓ rf-train 1 x 1")
            assert f"\n✗ not saved: {path} was deleted or replaced while open" in shown
            assert [n.title for n in app._notifications] == ["Not saved", "Not saved"]


def test_importing_the_app_loads_no_scientific_stack():
    probe = "import sys, cpulab.ui.app\nprint(' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert {name.partition(".")[0] for name in out.stdout.split()}.isdisjoint(HEAVY)


async def test_the_app_keeps_a_spare_runner_ready_and_leaves_none_behind():
    supervisor = Supervisor()
    handles = []
    start = supervisor.start

    async def recording_start(spec):
        handles.append(await start(spec))
        return handles[-1]

    supervisor.start = recording_start
    app = make_app(supervisor=supervisor)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: supervisor.spare_pid is not None)
        spare = supervisor.spare_pid
        assert app.sampler.spare == spare  # its imports are cpulab's own load, not other work
        await pilot.press("r")
        await wait_for(pilot, lambda: handles and not app.running, timeout=60)
        assert handles[0].pid == spare
        assert app.query_one(RunStatus).has_class("-done")
        await wait_for(pilot, lambda: supervisor.spare_pid not in (None, spare))
        following = psutil.Process(supervisor.spare_pid)
    following.wait(timeout=5)  # the app's end took its spare with it


async def test_the_whole_screen_is_drawn_again_when_the_shell_continues_the_app():
    # After Ctrl-Z and fg the terminal was the shell's: Textual's own suspend leaves the
    # screen to what changes next, which left most of it blank.
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        asked = []
        screen_refresh = app.screen.refresh
        app.screen.refresh = lambda **kw: asked.append(kw) or screen_refresh(**kw)
        app.app_resume_signal.publish(app)
        await pilot.pause()
        assert {"repaint": True, "layout": True} in asked
