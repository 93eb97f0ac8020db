"""Screenshots of the app compared with approved SVGs (pytest --snapshot-update to renew).

Deterministic by construction: a fake sampler with fixed per-core values, a stopped
clock, scripted runs and injected results, no animations, no focused text cursor.
"""

import pytest

from cpulab.ui.messages import RunEvent
from cpulab.ui.scaling import Entry
from cpulab.ui.themes import ThemeCatalog
from cpulab.ui.widgets import RunStatus
from support.fake_sampler import FakeSampler
from support.tui import THREE_RESULTS, ScriptedSupervisor, make_app, make_result, sampled, wait_for

SHIPPED_THEMES = sorted(ThemeCatalog.load().themes)


async def start_scripted_run(pilot, train: str, eval: str) -> None:
    """cv-eval at the given split, caught mid-fit."""
    await sampled(pilot)
    await pilot.press("down")
    pilot.app.query_one("#train").value = train
    pilot.app.query_one("#eval").value = eval
    await pilot.press("r")
    # The phase and its progress are drawn with the next sample: wait for them on screen.
    status = pilot.app.query_one(RunStatus)
    await wait_for(pilot, lambda: "12/30 folds" in str(status.render()))
    pilot.app.query_one("#tasks").focus()


async def add_three_results(pilot) -> None:
    await sampled(pilot)
    for result in THREE_RESULTS:
        pilot.app.post_message(RunEvent(result))
    await wait_for(pilot, lambda: len(pilot.app.results) == 3)


def test_idle_80x24_two_cores(snap_compare):
    assert snap_compare(make_app(cores=2), terminal_size=(80, 24), run_before=sampled)


def test_idle_80x24_no_color(snap_compare, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(make_app(cores=2), terminal_size=(80, 24), run_before=sampled)


@pytest.mark.parametrize(
    ("cores", "size", "split"),
    [
        (16, (120, 40), ("2", "4")),
        (64, (160, 50), ("4", "8")),
        (256, (200, 60), ("8", "16")),
    ],
    ids=["16-cores-120x40", "64-cores-160x50", "256-cores-200x60"],
)
def test_running(snap_compare, cores, size, split):
    busy = FakeSampler.pattern(cores, tree_cores=cores * 0.48, other_cores=0.1)
    app = make_app(cores=cores, sampler=busy, supervisor=ScriptedSupervisor())

    async def run_before(pilot):
        await start_scripted_run(pilot, *split)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_three_results_fit_time(snap_compare):
    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=add_three_results)


def test_three_results_speedup(snap_compare):
    async def run_before(pilot):
        await add_three_results(pilot)
        await pilot.press("s")

    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=run_before)


@pytest.mark.parametrize("theme", SHIPPED_THEMES)
def test_shipped_theme(snap_compare, theme):
    app = make_app(theme=theme)
    assert snap_compare(app, terminal_size=(100, 30), run_before=add_three_results)


async def add_a_crowded_workspace(pilot) -> None:
    """40 results: five grid sweeps (three strategies each) of cv-eval on as many variants,
    single runs of two tasks, and one point of 999 x 2 on a 2-core machine."""
    app = pilot.app
    await sampled(pilot)
    variants = ["", "BLAS 1", "threading", "flowers.csv:species", "houses.csv:price"]
    for number, variant in enumerate(variants, 1):
        for train, eval_ in ((1, 1), (2, 1), (1, 2), (2, 2)):
            seconds = 4.0 / (train * 0.6 + eval_ * 0.9) + number * 0.3
            result = make_result("cv-eval", train, eval_, seconds, variant=variant)
            app.workspace.add(
                Entry(result, point_id=number * 10 + train + eval_, sweep=str(number))
            )
    for n in range(19):
        train = 1 + n % 2
        app.workspace.add(Entry(make_result("rf-train", train, 1, 2.0 / train + n * 0.01)))
    oversubscribed = make_result("cv-eval", 999, 2, 9.5, flags=["oversubscribed"])
    app.workspace.add(Entry(oversubscribed))
    app._show_results()
    await pilot.pause()


@pytest.mark.parametrize(
    ("size", "views"), [((120, 40), 0), ((80, 24), 2)], ids=["120x40", "80x24-chart-view"]
)
def test_a_crowded_workspace_stays_readable(snap_compare, size, views):
    async def run_before(pilot):
        await add_a_crowded_workspace(pilot)
        for _ in range(views):  # at 80x24 one panel at a time: v, v brings the chart
            await pilot.press("v")

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [(60, 20), (80, 24)], ids=["60x20", "80x24"])
def test_a_run_shows_its_status_at_small_sizes(snap_compare, size):
    app = make_app(cores=2, supervisor=ScriptedSupervisor())

    async def run_before(pilot):
        await start_scripted_run(pilot, "1", "2")

    assert snap_compare(app, terminal_size=size, run_before=run_before)
