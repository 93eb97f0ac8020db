"""A sweep's scaling model on the chart: its curve from 1 core to the machine's, dotted
apart past the counts measured, its band, dropped band first at small sizes; fitted once,
in a thread, and kept while its series is shown."""

from __future__ import annotations

from itertools import pairwise

import pytest
from rich.style import Style
from textual.app import App, ComposeResult
from textual.strip import Strip
from textual.widget import Widget

from cpulab.engine.models import fit_scaling, model_points
from cpulab.engine.stats import analyse_results
from cpulab.ui.scaling import Entry
from cpulab.ui.themes import ThemeCatalog, shipped_themes_dir
from cpulab.ui.widgets import ScalingChart
from cpulab.ui.widgets import scaling_chart as chart_module
from cpulab.ui.widgets.scaling_chart import BAND_MARKER, ModelCurve
from support.tui import make_result

# The chart inside the app at 120 x 40 (the band shows), and at 80 x 24 (the plain fit).
MEDIUM, SMALL = (74, 14), (44, 8)


def sweep(cores=(1, 2, 4), repeats: int = 3, sweep_id: str = "7") -> list[Entry]:
    """A stored training-cores sweep on a 16-core machine, `repeats` runs a point."""
    entries = []
    for p in cores:
        t = 4.0 / p + 0.5 + 0.05 * p
        times = [t, t * 1.03, t * 0.98][:repeats]
        result = make_result("rf-train", p, 1, t, fit_times=times, available=16)
        entries.append(Entry(result, point_id=p, sweep=sweep_id))
    return entries


class ChartApp(App):
    def __init__(self, size: tuple[int, int]):
        super().__init__()
        self.chart_size = size

    def compose(self) -> ComposeResult:
        yield ScalingChart(cores=16)

    def on_mount(self) -> None:
        chart = self.query_one(ScalingChart)
        chart.styles.width, chart.styles.height = self.chart_size


async def settled(pilot) -> None:
    """Until the chart's models are fitted, and drawn."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def cells(chart: ScalingChart) -> list[list[tuple[str, tuple[int, int, int] | None]]]:
    """Each row of the drawn chart as (character, its colour)."""
    rows = []
    for line in chart.render().split("\n"):
        colours: list[tuple[int, int, int] | None] = [None] * len(line.plain)
        for span in line.spans:
            style = span.style
            colour = None if isinstance(style, str) or style.color is None else style.color
            if colour is not None and colour.triplet is not None:
                for at in range(span.start, span.end):
                    colours[at] = tuple(colour.triplet)
        rows.append(list(zip(line.plain, colours, strict=True)))
    return rows


def plot_cells(chart: ScalingChart):
    """The canvas rows above the x axis, from the first column of the axis."""
    rows = cells(chart)
    axis = next(i for i, row in enumerate(rows) if "└" in "".join(c for c, _ in row))
    start = "".join(c for c, _ in rows[axis]).index("└") + 1
    return [row[start : start + chart.axis.width] for row in rows[:axis]]


async def test_a_sweeps_model_is_drawn_to_the_machines_cores_with_its_band():
    app = ChartApp(MEDIUM)
    async with app.run_test(size=(120, 40)) as pilot:
        chart = app.query_one(ScalingChart)
        chart.results = tuple(sweep())
        await settled(pilot)
        ((label, curve),) = chart.models.items()
        assert label == "rf-train · sweep 7"
        # The model the sweep's summary fits: the same points, seed and resamples.
        report = analyse_results(e.result for e in sweep())
        expected = fit_scaling(model_points(report))
        assert expected is not None and curve.model.best == expected.best
        # From 1 core to the machine's 16: the axis reaches past the 4 measured.
        assert chart.ticks[0] == "1" and chart.ticks[-1] == "16"
        serial = f"fit: serial {curve.model.best.s.value:.0%}"
        assert chart.key == [f"● {label}  {serial}", f"{BAND_MARKER} 95% band", "· ideal"]

        colour = chart._rgb("primary")
        rows = plot_cells(chart)
        measured = chart.axis.column(4)
        # Past the counts measured: the curve's dots, spaced apart, in the series' colour.
        past = sorted({at for row in rows for at, cell in enumerate(row)
                       if at > measured + 1 and cell == ("·", colour)})  # fmt: skip
        assert len(past) >= 3 and all(b - a >= 2 for a, b in pairwise(past))
        # The band: braille in a faded shade of the series' colour, on both sides.
        faded = {cell[1] for row in rows for cell in row if "⠀" <= cell[0] <= "⣿"}
        assert len(faded - {colour}) == 1


async def test_a_small_chart_drops_the_band_then_the_model():
    app = ChartApp(MEDIUM)
    async with app.run_test(size=(120, 40)) as pilot:
        chart = app.query_one(ScalingChart)
        chart.results = tuple(sweep())
        await settled(pilot)
        assert chart.models and f"{BAND_MARKER} 95% band" in chart.key

        chart.styles.width, chart.styles.height = 60, 12
        await pilot.pause()
        assert chart.models and chart.ticks[-1] == "16"
        assert not any(entry.startswith(BAND_MARKER) for entry in chart.key)
        braille = {cell[1] for row in plot_cells(chart) for cell in row if "⠀" < cell[0] <= "⣿"}
        assert braille == {chart._rgb("primary")}  # the points joined: no faded band

        chart.styles.width, chart.styles.height = SMALL
        await pilot.pause()
        # The plain fit over the counts measured, as the chart always drew it.
        assert chart.models == {} and chart.ticks[-1] == "4"
        assert not any(entry.startswith(BAND_MARKER) for entry in chart.key)


async def test_each_model_is_fitted_once_off_the_event_loop(monkeypatch):
    fits = []
    fit = ModelCurve.fit
    monkeypatch.setattr(
        ModelCurve, "fit", staticmethod(lambda key, up_to: fits.append(key) or fit(key, up_to))
    )
    app = ChartApp(MEDIUM)
    async with app.run_test(size=(120, 40)) as pilot:
        chart = app.query_one(ScalingChart)
        chart.results = tuple(sweep())
        await settled(pilot)
        assert len(fits) == 1
        for change in ("speedup", "size", "theme", "speedup"):
            if change == "speedup":
                chart.speedup = not chart.speedup
            elif change == "size":
                chart.styles.width = 90
            else:
                app.theme = "textual-light"
            await settled(pilot)
            assert chart.models  # drawn in either quantity, at either size
        assert len(fits) == 1

        # A point more is another model; the one no longer shown is forgotten.
        chart.results = tuple(sweep((1, 2, 4, 8)))
        await settled(pilot)
        assert len(fits) == 2
        assert list(chart._models) == [fits[1]]


async def test_only_sweeps_of_two_core_counts_or_more_and_few_series_get_a_model():
    app = ChartApp(MEDIUM)
    async with app.run_test(size=(120, 40)) as pilot:
        chart = app.query_one(ScalingChart)
        runs = [make_result("rf-train", p, 1, 4.0 / p + 0.5, fit_times=[1.0, 1.1]) for p in (1, 2)]
        chart.results = (*runs, *sweep((1,), sweep_id="8"))
        await settled(pilot)
        assert chart.models == {}  # runs outside a sweep, and a sweep of one count

        crowded = [e for n in range(chart_module.MODEL_SERIES + 1) for e in sweep(sweep_id=str(n))]
        chart.results = tuple(crowded)
        await settled(pilot)
        assert chart.models == {}


async def test_one_run_a_point_draws_the_curve_without_a_band():
    app = ChartApp(MEDIUM)
    async with app.run_test(size=(120, 40)) as pilot:
        chart = app.query_one(ScalingChart)
        chart.results = tuple(sweep(repeats=1))
        await settled(pilot)
        (curve,) = chart.models.values()
        assert not curve.model.intervals_known
        assert not any(entry.startswith(BAND_MARKER) for entry in chart.key)


def styled(strip: Strip) -> list[tuple[str, Style | None]]:
    """Each cell of a line: its character and its style, less Textual's offsets."""
    return [
        (character, segment.style and segment.style.clear_meta_and_links())
        for segment in strip
        for character in segment.text
    ]


def check_drawn_as_written(chart: ScalingChart) -> None:
    """The lines on screen are the cells of plotext's ANSI text, as Textual renders it."""
    drawn = [styled(chart.render_line(y)) for y in range(chart.size.height)]
    chart.refresh()  # Textual's own lines, from the text that render() returns
    written = [styled(Widget.render_line(chart, y)) for y in range(chart.size.height)]
    assert drawn == written


@pytest.mark.parametrize("theme", ["cpulab-dark", "cpulab-light", "ansi-dark"])
@pytest.mark.parametrize("size", [SMALL, MEDIUM], ids=["80x24", "120x40"])
async def test_the_screen_draws_the_cells_plotext_writes(size, theme):
    """The chart draws straight from plotext's matrix of cells: the same characters in
    the same styles as plotext's ANSI text rendered by Textual, the slower way; and
    again after each change that draws the chart anew."""
    app = ChartApp(size)
    async with app.run_test(size=(120, 40)) as pilot:
        for shipped in ThemeCatalog.load((shipped_themes_dir(),)).themes.values():
            app.register_theme(shipped)
        app.theme = theme
        chart = app.query_one(ScalingChart)
        chart.results = tuple(sweep())
        await settled(pilot)
        assert chart.models or size == SMALL  # a model's curve and band, where they fit
        check_drawn_as_written(chart)
        app.theme = "textual-light" if theme != "textual-light" else "textual-dark"
        await pilot.pause()
        check_drawn_as_written(chart)
        chart.speedup = True
        await pilot.pause()
        check_drawn_as_written(chart)
        chart.styles.width = size[0] + 6
        await pilot.pause()
        assert chart.size.width == size[0] + 6
        check_drawn_as_written(chart)
