"""How the core grid lays out its cores for the space it is given."""

from dataclasses import replace

import pytest
from textual.app import App, ComposeResult

from cpulab.ui.widgets import CoreGrid
from cpulab.ui.widgets.core_grid import choose_layout
from support.fake_sampler import FakeSampler


def test_few_cores_get_one_wide_bar_each():
    layout = choose_layout(2, 1, width=70, rows_free=6)
    assert layout.bars and layout.per_row == 1 and layout.rows == 2
    assert layout.bar_width == 30


def test_more_cores_than_rows_spread_into_columns():
    layout = choose_layout(16, 2, width=80, rows_free=8)
    assert layout.bars and layout.per_row == 2 and layout.rows == 8


def test_cores_beyond_what_bars_can_show_become_heat_cells_in_rows_of_64():
    layout = choose_layout(256, 3, width=150, rows_free=12)
    assert not layout.bars
    assert (layout.per_row, layout.rows, layout.shown) == (64, 4, 256)


def test_heat_rows_lengthen_before_any_core_is_hidden():
    layout = choose_layout(256, 3, width=150, rows_free=2)
    assert (layout.per_row, layout.rows, layout.shown) == (128, 2, 256)


def test_a_window_too_small_for_every_core_says_how_many_are_hidden():
    layout = choose_layout(256, 3, width=40, rows_free=3)
    assert layout.shown == 3 * layout.per_row < 256


class GridApp(App):
    def __init__(self, cores: int):
        super().__init__()
        self.sampler = FakeSampler.pattern(cores)

    def compose(self) -> ComposeResult:
        yield CoreGrid(self.sampler.budget.affinity)

    def on_mount(self) -> None:
        self.query_one(CoreGrid).sample = self.sampler.sample()


def screen_text(app: App) -> list[str]:
    grid = app.query_one(CoreGrid)
    return [grid.render_line(y).text for y in range(grid.size.height)]


@pytest.mark.parametrize("cores", [1, 2, 16, 64, 256])
async def test_every_core_is_drawn_with_the_summary_first(cores):
    app = GridApp(cores)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        lines = screen_text(app)
        assert lines[0].startswith(f"{cores} cores  avg ")
        assert " min " in lines[0] and " max " in lines[0]
        assert lines[1].startswith("experiment")
        body = "\n".join(lines[2:])
        if cores <= 64:  # bars: one label and percentage per core
            assert body.count("%") == cores
        else:  # heat cells: one glyph per core
            assert sum(ch in "▁▂▃▄▅▆▇█" for ch in body) == cores


async def test_a_tiny_window_reports_the_cores_it_cannot_show():
    app = GridApp(256)
    async with app.run_test(size=(60, 8)) as pilot:
        await pilot.pause()
        lines = screen_text(app)
        shown = sum(ch in "▁▂▃▄▅▆▇█" for ch in "".join(lines))
        assert lines[-1] == f"{256 - shown} more cores not shown: enlarge the window"


async def test_a_sample_repaints_only_the_lines_that_look_different(monkeypatch):
    app = GridApp(16)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        grid = app.query_one(CoreGrid)
        first = grid.sample
        grid.sample = replace(first, percents=tuple(p + 0.002 for p in first.percents))
        await pilot.pause()  # drawn once after the app's styles settled
        repaints: list[tuple] = []
        original = CoreGrid.refresh

        def counted(self, *regions, **kwargs):
            repaints.append(regions)
            return original(self, *regions, **kwargs)

        monkeypatch.setattr(CoreGrid, "refresh", counted)
        # A hair different: the same whole percentages and bars, so nothing to repaint.
        grid.sample = replace(first, percents=tuple(p + 0.001 for p in first.percents))
        await pilot.pause()
        assert repaints == []
        # One core changes: its row, not the whole grid (the summary's figures may too).
        changed = (min(first.percents[0] + 40, 100.0), *first.percents[1:])
        grid.sample = replace(first, percents=changed)
        await pilot.pause()
        assert len(repaints) == 1 and len(repaints[0]) == 1
        region = repaints[0][0]
        assert 0 < region.height < grid.size.height
        assert screen_text(app)[2].endswith(f"{changed[0]:.0f}%")
