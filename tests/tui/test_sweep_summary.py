"""The summary shown when a sweep ends says what `cpulab sweep` prints for the same points,
and how the sweep ended."""

from dataclasses import replace

import pytest
from textual.containers import VerticalScroll
from textual.widgets import Static

from cpulab.cli.render import print_report
from cpulab.engine.events import PARTIAL, Error
from cpulab.engine.models import sweep_model
from cpulab.engine.presentation import SCALING_HEADER, scaling_rows, variant_label
from cpulab.engine.session import Outcome
from cpulab.engine.spec import RunOptions
from cpulab.engine.stats import analyse_results
from cpulab.engine.sweep import SweepPlan
from cpulab.engine.tasks import CATALOGUE
from cpulab.ui.screens.sweep_summary import CAPTION, SweepSummary
from support.screens import ScreenHost, drawn_text, screen_text, words
from support.tui import make_result


def point(train, eval_, times, **fields):
    return make_result("cv-eval", train, eval_, times[0], fit_times=times, **fields)


# A grid sweep over 1, 2 and 4 cores: one point noisy, one cut short, one run alone.
RESULTS = (
    point(1, 1, [2.0, 2.1, 1.9]),
    point(1, 2, [1.1, 1.0, 1.2]),
    point(2, 1, [1.2, 1.25, 1.15], flags=["noisy"]),
    point(1, 4, [0.6, 0.61, 0.62], flags=["oversubscribed"]),
    point(2, 2, [0.7, 0.72, 0.69], flags=["oversubscribed"]),
    point(4, 1, [0.8], flags=["oversubscribed", PARTIAL]),
)
PLAN = SweepPlan(
    task=CATALOGUE["cv-eval"],
    scale="small",
    strategy="grid",
    cores=(1, 2, 4),
    repeats=3,
    warmup=0,
    available=2,
    options=RunOptions(blas_threads=1),
)


def cli_report(results, capsys, monkeypatch) -> list[str]:
    """What `cpulab sweep` prints for these results, on a terminal wide enough for it."""
    monkeypatch.setenv("COLUMNS", "300")
    capsys.readouterr()
    print_report(analyse_results(results), "title")
    return capsys.readouterr().out.splitlines()


async def test_the_summary_says_what_cpulab_sweep_prints(capsys, monkeypatch):
    cli = cli_report(RESULTS, capsys, monkeypatch)
    screen = SweepSummary(analyse_results(RESULTS), "title", "✓ finished")
    async with ScreenHost(screen).run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        table = drawn_text(screen.query_one("#sweep-points")).splitlines()
        lines = [w for w in screen.query(Static) if w.id is None]
        shown = [str(w.content) for w in lines]
        drawn = [words(drawn_text(w)) for w in lines]
    # The table: the same header and cells in the same order, row by row.
    cli_header = next(line for line in cli if "┃" in line)
    cli_rows = [line for line in cli if "│" in line]
    assert table[0].split() == cli_header.replace("┃", " ").split()
    assert set(table[1]) == {"─"}  # the rule under the header
    assert [row.split() for row in table[2:]] == [row.replace("│", " ").split() for row in cli_rows]
    assert len(cli_rows) == len(RESULTS)
    # Under it: the caption, the fit, the best splits and every warning, word for word.
    under = [line.strip() for line in cli[cli.index(next(x for x in cli if "└" in x)) + 1 :]]
    assert shown == drawn == under
    assert under[0] == CAPTION
    assert any("partial: cut short after 1 measured run" in line for line in under)
    assert any(line.startswith("warning: 2 x 1: other processes") for line in under)


async def test_a_failed_sweep_says_so_and_analyses_what_it_kept():
    done, partial = RESULTS[:5], RESULTS[5:]
    error = Error(type="ValueError", message="the model diverged")
    outcome = Outcome("failed", error, done, 9, partial=partial, model=sweep_model(done + partial))
    screen = SweepSummary.of(PLAN, outcome)
    async with ScreenHost(screen).run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        title = drawn_text(screen.query_one("#sweep-title"))
        status = screen.query_one("#sweep-status")
        table = drawn_text(screen.query_one("#sweep-points")).splitlines()
    assert words(title) == f"{variant_label('cv-eval', 'BLAS 1')} (small), strategy grid, sweep 9"
    assert str(status.content) == (
        f"✗ failed: 5 of {len(PLAN.splits())} points done, 1 partial\n{error.one_line()}"
    )
    assert status.has_class("-failed")
    rows = scaling_rows(analyse_results(done + partial))
    assert [line.split() for line in table[2:]] == [" ".join(row).split() for row in rows]


@pytest.mark.parametrize(
    ("status", "words_shown"),
    [("done", "✓ finished"), ("cancelled", "■ cancelled"), ("interrupted", "■ interrupted")],
)
async def test_how_the_sweep_ended_is_said(status, words_shown):
    outcome = Outcome(status, None, RESULTS[:3], None, model=sweep_model(RESULTS[:3]))
    screen = SweepSummary.of(PLAN, outcome)
    assert screen.status == f"{words_shown}: 3 of {len(PLAN.splits())} points done"
    assert ", sweep" not in screen.title_text  # not stored: no sweep id to name


async def test_a_sweep_that_kept_nothing():
    screen = SweepSummary.of(PLAN, Outcome("cancelled", None, (), sweep_id=3))
    async with ScreenHost(screen).run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = words(screen_text(screen))
    assert "■ cancelled: 0 of" in text
    assert "No point finished: there is nothing to analyse." in text
    assert not screen.query("#sweep-points")


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
async def test_it_fits_the_terminal(size):
    screen = SweepSummary(analyse_results(RESULTS), "a title", "✓ finished")
    async with ScreenHost(screen).run_test(size=size) as pilot:
        await pilot.pause()
        box = screen.query_one(VerticalScroll)
        table = screen.query_one("#sweep-points")
        assert box.max_scroll_x == 0
        assert table.region.width <= box.scrollable_content_region.width
        header = drawn_text(table).splitlines()[0]
        assert header.split() == [word for name in SCALING_HEADER for word in name.split()]
        if size == (160, 50):
            assert box.max_scroll_y == 0  # all of it in view


@pytest.mark.parametrize("key", ["escape", "enter", "q"])
async def test_escape_enter_and_q_close_it(key):
    screen = SweepSummary(analyse_results(RESULTS), "a title")
    async with ScreenHost(screen).run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert pilot.app.screen is screen
        await pilot.press(key)
        await pilot.pause()
        assert pilot.app.screen is not screen


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
def test_screenshot(snap_compare, size):
    """Compared with an approved SVG (pytest --snapshot-update to renew)."""
    outcome = Outcome(
        "cancelled", None, RESULTS[:5], 9, partial=RESULTS[5:], model=sweep_model(RESULTS)
    )
    screen = SweepSummary.of(PLAN, outcome)
    assert snap_compare(ScreenHost(screen), terminal_size=size)


def test_past_the_physical_cores_it_says_whether_smt_pays_as_cpulab_sweep_does():
    one_core = {"topology": {"physical_cores": 1}}  # 2 logical: SMT siblings
    results = (point(1, 1, [2.0]), point(1, 2, [1.6]))
    results = tuple(replace(r, machine=one_core) for r in results)
    outcome = Outcome("done", None, results, 9, model=sweep_model(results))
    lines = SweepSummary.of(PLAN, outcome).model
    assert "SMT pays: past the 1 physical core, 1 to 2 cores (2 s to 1.6 s), 1.25x faster" in lines
