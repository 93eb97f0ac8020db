"""The screen, header, footer and containers keep their lines between frames: a sample of
a run redraws the cores and nothing around them, and no change leaves a kept line on the
screen that Textual's own render would not draw."""

from __future__ import annotations

from collections import Counter

import pytest
from textual._styles_cache import StylesCache
from textual.widget import Widget

from cpulab.monitor.sampler import MIN_HZ, CoreSample
from cpulab.ui.widgets import CoreGrid
from cpulab.ui.widgets.kept_lines import KeptLines
from support.tui import FITTING, ScriptedSupervisor, make_app, wait_for


def count_renders(monkeypatch) -> Counter[str]:
    """How many times each widget has Textual render its lines, by id (or type)."""
    renders: Counter[str] = Counter()
    original = StylesCache.render_widget

    def counted(self, widget, crop):
        renders[widget.id or type(widget).__name__] += 1
        return original(self, widget, crop)

    monkeypatch.setattr(StylesCache, "render_widget", counted)
    return renders


@pytest.mark.parametrize("size", [(80, 24), (200, 60)])
async def test_a_sample_during_a_run_renders_the_cores_and_none_of_the_containers(
    monkeypatch, size
):
    # The app's own samples at the slowest rate: these four are the test's.
    app = make_app(supervisor=ScriptedSupervisor(FITTING), sample_hz=MIN_HZ)
    async with app.run_test(size=size) as pilot:
        await pilot.press("r")
        await wait_for(pilot, lambda: app._progress is not None)  # the last scripted event
        await pilot.pause()
        await pilot.pause()
        grid = app.query_one(CoreGrid)
        renders = count_renders(monkeypatch)
        for busy in (10.0, 40.0, 70.0, 87.0):
            grid.sample = CoreSample(cpus=grid.cpus, percents=(busy,) * len(grid.cpus))
            await pilot.pause()
        assert renders["cores"] >= 4
        # Each of these was rendered whole at every sample: its container meets the cores.
        widgets = app.screen.walk_children(with_self=True)
        kept = {w.id or type(w).__name__ for w in widgets if isinstance(w, KeptLines)}
        assert {"_default", "KeptHeader", "KeysFooter", "main", "work"} <= kept
        assert not {name: renders[name] for name in kept if renders[name]}
        await pilot.press("c")


async def test_no_change_leaves_a_kept_line_that_textuals_own_render_would_not_draw(
    monkeypatch,
):
    app = make_app(supervisor=ScriptedSupervisor(FITTING))

    def drawn() -> str:
        return app.export_screenshot()

    def drawn_by_textual() -> str:
        with monkeypatch.context() as patch:
            patch.setattr(KeptLines, "render_lines", Widget.render_lines)
            return app.export_screenshot()

    async def set_theme(name: str) -> None:
        app.theme = name

    async def set_ansi_color(on: bool) -> None:
        app.ansi_color = on

    async def set_title(selector: str, title: str) -> None:
        app.query_one(selector).border_title = title

    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        steps = [
            ("a run started", lambda: pilot.press("r")),
            ("the setup view", lambda: pilot.press("v")),
            ("another theme", lambda: set_theme("textual-light")),
            ("a larger terminal", lambda: pilot.resize_terminal(200, 60)),
            ("the focus moved", lambda: pilot.press("tab")),
            ("a kept panel's title changed", lambda: set_title("#controls", "Run: busy")),
            ("a smaller one again", lambda: pilot.resize_terminal(100, 30)),
            ("the pointer over the containers", lambda: pilot.hover("#work", offset=(2, 1))),
            ("the help on top", lambda: pilot.press("f1")),
            ("the help closed", lambda: pilot.press("escape")),
            ("the terminal's own colours", lambda: set_ansi_color(True)),
            ("truecolor again", lambda: set_ansi_color(False)),
            ("the run cancelled", lambda: pilot.press("c")),
            ("the first theme again", lambda: set_theme("textual-dark")),
        ]
        for step, change in steps:
            await change()
            await pilot.pause()
            await pilot.pause()
            assert drawn() == drawn_by_textual(), f"stale lines after {step}"
