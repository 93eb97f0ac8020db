"""The app at 40x12, 80x24 and 300x100, and resized back and forth during a real run."""

from __future__ import annotations

import pytest

from cpulab.ui.messages import RunEvent
from cpulab.ui.screens.sweep_dialog import SweepDialog
from cpulab.ui.screens.theme_picker import ThemePicker
from cpulab.ui.widgets import ResultsTable, RunStatus
from support.tui import THREE_RESULTS, ScriptedSupervisor, make_app, sampled, wait_for

SIZES = ((40, 12), (80, 24), (300, 100))


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
async def test_every_view_at_every_size(size):
    # 256 cores: one heat cell per core, the densest the core panel gets.
    app = make_app(cores=256, supervisor=ScriptedSupervisor())
    async with app.run_test(size=size) as pilot:
        await sampled(pilot)
        for result in THREE_RESULTS:
            app.post_message(RunEvent(result))
        await wait_for(pilot, lambda: app.query_one(ResultsTable).row_count == 3)
        await pilot.press("r")
        await wait_for(pilot, lambda: app._progress is not None)
        await pilot.press("s", "t")  # the chart in speedups, the theme picker over it all
        await wait_for(pilot, lambda: isinstance(app.screen, ThemePicker) and app.screen.focused)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ThemePicker))
        await pilot.press("c")
        await wait_for(pilot, lambda: not app.running)
        assert app.query_one(RunStatus).has_class("-cancelled")
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, SweepDialog))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, SweepDialog))


async def test_resizing_during_a_real_run():
    app = make_app()
    async with app.run_test(size=SIZES[1]) as pilot:
        await pilot.press("r")  # rf-train, 1 x 1, small
        resizes = 0
        while app.running or resizes < len(SIZES):
            await pilot.resize_terminal(*SIZES[resizes % len(SIZES)])
            await pilot.pause(0.1)
            resizes += 1
            assert resizes < 600, "the run never ended"
        assert app.query_one(RunStatus).has_class("-done"), app.query_one(RunStatus).render()
        assert [r.task for r in app.results] == ["rf-train"]
