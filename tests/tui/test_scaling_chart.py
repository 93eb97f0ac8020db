"""The scaling chart with any data: an oversubscribed point, a sixteen-series sweep, small
and large sizes. A tiny app hosts the chart; what it draws is read back as text."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.geometry import Size

from cpulab.engine.events import Result
from cpulab.ui.widgets import ScalingChart
from cpulab.ui.widgets.scaling_chart import (
    BREAK,
    SERIES_MARKERS,
    CoreAxis,
    KeyEntry,
    key_labels,
)
from support.tui import make_result

# The chart's size inside the app at 80 x 24 and at 120 x 40 with a full results table.
SMALL, MEDIUM = (44, 8), (74, 14)


def store_like() -> list[Result]:
    """Two tasks at every split of a 2-core machine, reruns, and one 999 x 2 run."""
    results = []
    for task, slower in (("cv-eval", 1.0), ("grid-search", 2.5)):
        for train, eval_, seconds in ((1, 1, 4.0), (1, 2, 2.2), (2, 1, 3.1), (2, 2, 1.7)):
            results.append(make_result(task, train, eval_, seconds * slower))
    results.append(make_result("cv-eval", 999, 2, 9.5, flags=["oversubscribed"]))
    for seconds in (1.9, 1.1):
        results += [make_result("rf-train", 1, 1, 2.0), make_result("rf-train", 2, 1, seconds)]
    return results


def sweep_grid() -> list[Result]:
    """Four tasks at two scales, each swept over 1 to 16 training and evaluation cores:
    sixteen series."""
    results = []
    for task in ("cv-eval", "grid-search", "compare-regressors", "compare-classifiers"):
        for scale, slower in (("small", 1.0), ("full", 8.0)):
            results.append(make_result(task, 1, 1, 4.0 * slower, scale=scale))
            for cores in (2, 4, 8, 16):
                train = slower * (1 + 3.0 / cores)
                eval_ = slower * (0.6 + 3.4 / cores)
                results.append(make_result(task, cores, 1, train, scale=scale))
                results.append(make_result(task, 1, cores, eval_, scale=scale))
    return results


class ChartApp(App):
    def __init__(self, size: tuple[int, int] | None, cores: int | None):
        super().__init__()
        self.chart_size, self.cores = size, cores

    def compose(self) -> ComposeResult:
        yield ScalingChart(cores=self.cores)

    def on_mount(self) -> None:
        if self.chart_size is not None:
            chart = self.query_one(ScalingChart)
            chart.styles.width, chart.styles.height = self.chart_size


async def drawn(
    results: list[Result],
    size: tuple[int, int] | None,
    cores: int | None = None,
    speedup: bool = False,
    screen: tuple[int, int] = (120, 40),
) -> tuple[ScalingChart, list[str]]:
    """The chart once it has drawn `results`, and its lines of text."""
    app = ChartApp(size, cores)
    async with app.run_test(size=screen) as pilot:
        chart = app.query_one(ScalingChart)
        chart.results = tuple(results)
        chart.speedup = speedup
        await pilot.pause()
        return chart, screen_lines(chart)


def screen_lines(chart: ScalingChart) -> list[str]:
    """The chart's lines as the screen draws them."""
    return [chart.render_line(y).text for y in range(chart.size.height)]


def tick_row(chart: ScalingChart, lines: list[str]) -> str:
    """The row of x labels, under the x axis, without the key beside it."""
    axis = next(i for i, line in enumerate(lines) if "└" in line)
    layout = chart.key_layout
    beside = layout is not None and layout.side == "right"
    return lines[axis + 1][: len(lines[axis]) - layout.width if beside else None]


def plot_rows(chart: ScalingChart, lines: list[str]) -> list[str]:
    """The rows of the plot's canvas, up to the x axis, without the key beside them."""
    axis = next(i for i, line in enumerate(lines) if "└" in line)
    start = lines[axis].index("└") + 1
    return [line[start : start + chart.axis.width] for line in lines[:axis]]


def check_key(chart: ScalingChart, lines: list[str], series: list[str]) -> None:
    """Every series in the key, or as many as fit and "+N more"; fits named by series."""
    text = "\n".join(lines)
    for entry in chart.key:
        assert entry in text  # drawn, not only listed
    listed = [e for e in chart.key if e[:1] in SERIES_MARKERS]
    more = [e for e in chart.key if e.startswith("+") and e.endswith(" more")]
    if more:
        assert more == [f"+{len(series) - len(listed)} more"]
    else:
        assert len(listed) == len(series)
    for entry, label in zip(listed, series, strict=False):
        name = entry[2:].split("  fit")[0].rstrip("…")
        assert label.startswith(name) and len(name) >= 8
        # Every series here has a fit, noted in its own entry; only a key too narrow for
        # both cuts the note rather than the series' name.
        note = len("  fit: serial 25%")
        assert "fit: serial" in entry or len(entry) + note > chart.key_layout.column_width
    if chart.key_layout.column_width >= 38:
        assert all("fit: serial" in entry for entry in listed)
    assert "· ideal" in chart.key


@pytest.mark.parametrize("speedup", [False, True], ids=["time", "speedup"])
@pytest.mark.parametrize("size", [SMALL, MEDIUM, None], ids=["80x24", "120x40", "whole"])
async def test_an_oversubscribed_point_sits_past_a_break_and_the_rest_spread(size, speedup):
    chart, lines = await drawn(store_like(), size, cores=2, speedup=speedup)
    axis = chart.axis
    assert (axis.within, axis.beyond) == ((1, 2), (4, 1998))
    assert not axis.log
    # 1 and 2 cores spread over the width; 4 and 1998 sit right of the break.
    assert axis.column(2) - axis.column(1) >= axis.width // 3
    assert axis.column(2) < axis.break_column < axis.column(4) < axis.column(1998)
    assert f"{BREAK} over 2 cores" in chart.key
    # The labels chosen are the labels drawn, apart: none lost, none run together.
    assert tick_row(chart, lines).split() == chart.ticks
    assert chart.ticks[0] == "1" and chart.ticks[-1] == "1998"
    # The 999 x 2 point is drawn past the break, in cv-eval mixed's marker (the third).
    rows = plot_rows(chart, lines)
    past = [row[axis.column(1998)] for row in rows]
    assert SERIES_MARKERS[2] in past
    assert all(row[axis.break_column] == BREAK for row in rows[1:])
    labels = [
        "cv-eval eval-cores",
        "cv-eval train-cores",
        "cv-eval mixed",
        "grid-search eval-cores",
        "grid-search train-cores",
        "grid-search mixed",
        "rf-train",
    ]
    check_key(chart, lines, labels)


async def test_without_the_machines_cores_a_wide_span_goes_on_a_log_axis():
    chart, lines = await drawn(store_like(), MEDIUM, cores=None)
    axis = chart.axis
    assert axis.log and axis.beyond == () and axis.break_column is None
    assert chart.ticks[0] == "1" and chart.ticks[-1] == "1998"
    assert tick_row(chart, lines).split() == chart.ticks
    # Doubling the cores is the same step anywhere on the axis.
    assert abs((axis.column(4) - axis.column(2)) - (axis.column(2) - axis.column(1))) <= 1
    assert axis.column(2) - axis.column(1) >= 2
    assert not any(BREAK in entry for entry in chart.key)


@pytest.mark.parametrize("speedup", [False, True], ids=["time", "speedup"])
@pytest.mark.parametrize("size", [SMALL, MEDIUM, None], ids=["80x24", "120x40", "whole"])
async def test_a_sixteen_series_sweep_keeps_a_key_beside_or_below_the_plot(size, speedup):
    chart, lines = await drawn(sweep_grid(), size, cores=16, speedup=speedup)
    width, height = size or (120, 40)
    assert len(lines) == height and all(len(line) <= width for line in lines)
    assert chart.axis.log and chart.ticks == ["1", "2", "4", "8", "16"]
    assert tick_row(chart, lines).split() == chart.ticks
    labels = [
        f"{task} {strategy}{suffix}"
        for task in ("cv-eval", "grid-search", "compare-regressors", "compare-classifiers")
        for suffix in ("", " (full)")
        for strategy in ("train-cores", "eval-cores")
    ]
    check_key(chart, lines, labels)
    if size == MEDIUM:
        assert len(chart.key) >= 12  # most of the sweep, not a token key
    if size is None:
        assert len(chart.key) == 17  # room for all: every series, and the ideal line
    # Never over the plot: the key's text is not in the canvas rows.
    for row in plot_rows(chart, lines):
        assert "fit" not in row and "ideal" not in row


async def test_series_differ_by_marker_and_colour_pairs():
    chart, _ = await drawn(sweep_grid(), None, cores=16)
    series = chart.plt.subplot(1, 1).monitor
    chart.plt.main()
    scatters = [
        (marker[0], colour[0])
        for marker, colour, lines in zip(series.marker, series.color, series.lines, strict=True)
        if not lines
    ]
    assert len(scatters) == 16 and len(set(scatters)) == 16
    assert len({marker for marker, _ in scatters}) == len(SERIES_MARKERS)


async def test_many_core_counts_get_labels_that_never_collide():
    results = [make_result("rf-train", 1, 1, 64.0)]
    results += [make_result("rf-train", p, 1, 64.0 / p + 1) for p in range(2, 65)]
    chart, lines = await drawn(results, SMALL, cores=64)
    row = tick_row(chart, lines)
    assert row.split() == chart.ticks
    assert chart.ticks[0] == "1" and chart.ticks[-1] == "64" and len(chart.ticks) >= 3
    assert len(chart.ticks) < 64  # the rest would have run together


async def test_a_chart_without_results_says_so():
    _, lines = await drawn([], SMALL)
    assert any("no results yet" in line for line in lines)
    _, lines = await drawn([make_result("cv-eval", 1, 2, 2.0)], SMALL, speedup=True)
    assert any("speedup needs a 1 x 1 run" in line for line in lines)


ODD_DATA = {
    "all-past-the-cores": (
        [make_result("cv-eval", 2, 1, 3.0), make_result("cv-eval", 4, 1, 2.0)],
        1,
    ),
    "one-point": ([make_result("digits-svc", 1, 1, 3.0)], 2),
    "microseconds": ([make_result("rf-train", p, 1, 1e-5 / p + 1e-6) for p in (1, 2, 4)], 4),
    "fifty-series": (
        [make_result(f"task-{i}", p, 1, 1.0 + i / p) for i in range(50) for p in (1, 2)],
        2,
    ),
}


@pytest.mark.parametrize("speedup", [False, True], ids=["time", "speedup"])
@pytest.mark.parametrize("name", ODD_DATA)
async def test_odd_data_still_draws_a_readable_chart(name, speedup):
    results, cores = ODD_DATA[name]
    chart, lines = await drawn(results, SMALL, cores=cores, speedup=speedup)
    if speedup and name == "all-past-the-cores":  # no 1 x 1 run to measure against
        assert any("speedup needs a 1 x 1 run" in line for line in lines)
        return
    assert tick_row(chart, lines).split() == chart.ticks
    assert chart.key and all(entry in "\n".join(lines) for entry in chart.key)
    if name == "all-past-the-cores":
        assert chart.axis.beyond == (2, 4) and f"{BREAK} over 1 core" in chart.key
    if name == "fifty-series":
        listed = [e for e in chart.key if e[:1] in SERIES_MARKERS]
        assert f"+{50 - len(listed)} more" in chart.key


@pytest.mark.parametrize("size", [(12, 4), (20, 6), (30, 8), (200, 60)])
async def test_any_size_draws_something(size):
    app = ChartApp(size, cores=2)
    async with app.run_test(size=(210, 62)) as pilot:
        chart = app.query_one(ScalingChart)
        chart.results = tuple(store_like())
        await pilot.pause()
        lines = screen_lines(chart)
        figure = chart.render().plain.splitlines()  # plotext's own text
    assert len(lines) == size[1] and all(len(line) == size[0] for line in lines)
    assert len(figure) <= size[1] and all(len(line) <= size[0] for line in figure)
    assert chart.key  # some key, even where it must be cut short


def count_plans(chart: ScalingChart) -> tuple[list[Size], list[int]]:
    """The sizes the chart's figure is laid out for, and a 1 per plotext build of its
    matrix of cells (what the screen draws from)."""
    plans: list[Size] = []
    builds: list[int] = []
    plan, build = chart._plan, chart._plot._build_matrix
    chart._plan = lambda: (plans.append(chart.size), plan())[1]  # type: ignore[method-assign]
    chart._plot._build_matrix = lambda: (builds.append(1), build())[1]  # type: ignore[method-assign]
    return plans, builds


async def test_it_replots_only_when_what_it_shows_changes():
    app = ChartApp(MEDIUM, cores=2)
    async with app.run_test(size=(120, 40)) as pilot:
        chart = app.query_one(ScalingChart)
        plans, builds = count_plans(chart)
        chart.results = tuple(store_like())
        await pilot.pause()
        assert len(plans) == 1 and len(builds) == 1
        chart.refresh()
        await pilot.pause()
        assert len(plans) == 1 and len(builds) == 1  # drawing again is not plotting again
        chart.speedup = True
        await pilot.pause()
        assert len(plans) == 2 and len(builds) == 2
        chart.styles.width = 60
        await pilot.pause()
        assert len(plans) == 3
        app.theme = "textual-light"
        await pilot.pause()
        assert len(plans) == 4


async def test_new_results_that_resize_the_chart_are_plotted_once_at_the_new_size():
    """At the end of a run the table beside the chart may widen with its new row: the
    chart is laid out and built once, for the size it is drawn at."""
    app = ChartApp(MEDIUM, cores=2)
    async with app.run_test(size=(120, 40)) as pilot:
        chart = app.query_one(ScalingChart)
        await pilot.pause()
        plans, builds = count_plans(chart)
        chart.results = tuple(store_like())  # planned at once, at the old size
        chart.styles.width = 60
        await pilot.pause()
        assert chart.size.width == 60
        assert plans[-1] == chart.size and len(builds) == 1
        assert len(plans) == 2


def test_a_key_entry_keeps_its_fit_when_cut_short():
    entry = KeyEntry("●", (0, 0, 0), "compare-regressors train-cores (full)", "fit: serial 25%")
    assert entry.line() == "● compare-regressors train-cores (full)  fit: serial 25%"
    assert entry.line(40) == "● compare-regressors t…  fit: serial 25%"
    assert entry.line(31) == "● compare-reg…  fit: serial 25%"
    assert entry.line(30) == "● compare-regressors train-co…"  # too short for both
    assert entry.line(12) == "● compare-r…"
    assert all(len(entry.line(width)) <= width for width in range(60))


def test_the_axis_goes_log_past_a_factor_of_eight():
    assert not CoreAxis.of([1, 2, 4, 8], None, 40).log
    assert CoreAxis.of([1, 2, 4, 8, 16], None, 40).log
    assert not CoreAxis.of([1, 2, 1998], 2, 40).log  # what is past the break does not count


def test_the_key_leaves_out_the_words_every_series_starts_with():
    labels = ["cv-eval train-cores · sweep 3", "cv-eval eval-cores [BLAS 1] · sweep 4"]
    assert key_labels(labels) == ["train-cores · sweep 3", "eval-cores [BLAS 1] · sweep 4"]
    # A label of the common words only (a task's lone 1 x 1 point) keeps them; the rest
    # still lose them, and the separator they leave in front.
    assert key_labels(["cv-eval", "cv-eval eval-cores"]) == ["cv-eval", "eval-cores"]
    assert key_labels(["cv-eval train · earlier", "cv-eval train · this session"]) == [
        "earlier",
        "this session",
    ]
    assert key_labels(["rf-train (full)"]) == ["rf-train (full)"]
    assert key_labels(["rf-train", "cv-eval"]) == ["rf-train", "cv-eval"]


async def test_a_series_keeps_its_marker_as_others_come_and_go():
    def markers(chart: ScalingChart) -> dict[str, str]:
        listed = [entry for entry in chart.key if entry[:1] in SERIES_MARKERS]
        return {entry[2:].split("-cores  fit")[0]: entry[0] for entry in listed}

    cv = [make_result("cv-eval", 1, 1, 4.0), make_result("cv-eval", 2, 1, 2.5)]
    grid = [make_result("grid-search", 1, 1, 8.0), make_result("grid-search", 2, 1, 5.0)]
    app = ChartApp(MEDIUM, cores=2)
    async with app.run_test(size=(120, 40)) as pilot:
        chart = app.query_one(ScalingChart)
        chart.results = (*cv, *grid)
        await pilot.pause()
        first = markers(chart)
        assert list(first) == ["cv-eval train", "grid-search train"]
        # A new strategy of the first task comes before the second task's series.
        chart.results = (*cv, *grid, make_result("cv-eval", 1, 2, 2.2))
        await pilot.pause()
        now = markers(chart)
        assert list(now) == ["cv-eval train", "cv-eval eval", "grid-search train"]
        assert now["grid-search train"] == first["grid-search train"]
        assert len(set(now.values())) == 3
        chart.results = tuple(grid)  # the first task's series left out
        await pilot.pause()
        assert markers(chart) == {"grid-search train": first["grid-search train"]}
