"""The user's own work in the app: a task file in the task list, a CSV of theirs, and the
error panel when the runner refuses their data. Real runs in real child processes."""

from pathlib import Path

from textual.widgets import OptionList

from cpulab.engine.datafile import data_spec
from cpulab.engine.plugins import load_catalogue
from cpulab.engine.spec import RunOptions
from cpulab.ui.widgets import CoreGrid, ResultsTable, RunStatus, WorkerGrid
from support.tui import make_app, wait_for

TASK_FILE = Path(__file__).parents[1] / "plugins" / "forest_cv.py"


def write_csv(path: Path, rows: int, hole: bool = False) -> Path:
    lines = ["a,b,c,price"]
    for i in range(rows):
        a, b, c = (i * 7) % 13, (i * 5) % 11, (i * 3) % 17
        price = "" if hole and i == 5 else f"{2 * a - b + 0.5 * c + (i % 3) * 0.1:.2f}"
        lines.append(f"{a},{b},{c},{price}")
    path.write_text("\n".join(lines) + "\n")
    return path


async def choose_and_run_until(pilot, name: str, condition) -> None:
    app = pilot.app
    names = list(app.catalogue.tasks)
    app.query_one("#tasks", OptionList).highlighted = names.index(name)
    await pilot.pause()
    assert app.chosen_task.name == name
    await pilot.press("r")
    await wait_for(pilot, condition, timeout=60)


async def choose_and_run(pilot, name: str) -> None:
    app = pilot.app
    await choose_and_run_until(pilot, name, lambda: app.running or app.results)
    await wait_for(pilot, lambda: not app.running, timeout=60)


async def test_a_task_file_appears_in_the_list_and_runs():
    catalogue = load_catalogue([TASK_FILE])
    app = make_app(catalogue=catalogue)
    async with app.run_test(size=(120, 40)) as pilot:
        prompts = [str(option.prompt) for option in app.query_one("#tasks", OptionList).options]
        assert any(prompt.startswith("forest-cv") for prompt in prompts)
        await choose_and_run(pilot, "forest-cv")
        status = app.query_one(RunStatus)
        assert status.has_class("-done"), status.render()
        assert [r.task for r in app.results] == ["forest-cv"]
        assert 0.5 < app.results[0].score <= 1.0
        assert "From " in str(app.query_one("#description").render())


async def test_a_csv_of_the_users_runs_compare_regressors_with_rmse_per_model(tmp_path):
    data = data_spec(write_csv(tmp_path / "houses.csv", 120), "price")
    app = make_app(options=RunOptions(data=data))
    async with app.run_test(size=(120, 40)) as pilot:
        await choose_and_run(pilot, "compare-regressors")
        status = app.query_one(RunStatus)
        assert status.has_class("-done"), status.render()
        shown = str(status.render())
        for model in ("random forest", "NuSVR", "ridge", "elastic net"):
            assert model in shown
        result = app.results[0]
        assert result.variant == "houses.csv:price"
        assert set(result.details["rmse"]) == {"random forest", "NuSVR", "ridge", "elastic net"}
        assert "houses.csv:price" in str(app.query_one(ResultsTable).cells(0)[0])


async def test_data_the_runner_refuses_shows_in_the_error_panel(tmp_path):
    data = data_spec(write_csv(tmp_path / "holes.csv", 60, hole=True), "price")
    app = make_app(options=RunOptions(data=data))
    async with app.run_test(size=(120, 40)) as pilot:
        await choose_and_run(pilot, "compare-regressors")
        status = app.query_one(RunStatus)
        assert status.has_class("-failed")
        shown = str(status.render())
        assert shown.startswith("✗ ") and "missing" in shown and "Traceback" not in shown
        assert len(shown.splitlines()) == 1
        assert app.results == []


async def test_a_dask_run_shows_each_workers_cpu_instead_of_the_local_cores():
    app = make_app(options=RunOptions(backend="dask", cluster="local:2"))
    async with app.run_test(size=(120, 40)) as pilot:
        verdict = str(app.query_one("#verdict").render())
        assert "Dask" in verdict and "ignores n_jobs" in verdict
        await choose_and_run_until(pilot, "cv-eval", lambda: app.query_one(WorkerGrid).sample)
        grid = app.query_one(WorkerGrid)
        assert grid.labels == ("w0", "w1") and grid.threads == 2
        assert grid.display and not app.query_one(CoreGrid).display
        await wait_for(pilot, lambda: not app.running, timeout=60)
        assert app.query_one(RunStatus).has_class("-done"), app.query_one(RunStatus).render()
        assert app.results[0].details["cluster"]["workers"] == 2
        assert app.query_one(CoreGrid).display  # the local cores again, once the run ended
