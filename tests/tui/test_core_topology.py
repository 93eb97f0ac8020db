"""The core panel by package and NUMA node, SMT siblings together, on fake sysfs trees;
and the scaling chart's mark at the physical core count."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from textual.app import App, ComposeResult

from cpulab.engine.topology import read_topology
from cpulab.ui.widgets import CoreGrid, ScalingChart
from cpulab.ui.widgets.core_grid import LEVEL_GLYPHS, core_groups
from cpulab.ui.widgets.scaling_chart import PHYSICAL
from support.fake_sampler import FakeSampler
from support.tui import make_app, make_result, sampled

TREES = Path(__file__).resolve().parents[1] / "fixtures" / "sysfs"
TWO_SOCKET, EPYC, VM = (read_topology(TREES / name) for name in ("two-socket", "epyc-256", "vm"))


def grid_text(app: App) -> list[str]:
    grid = app.query_one(CoreGrid)
    return [grid.render_line(y).text for y in range(grid.size.height)]


def glyphs(lines: list[str]) -> int:
    return sum(ch in LEVEL_GLYPHS for ch in "".join(lines))


def test_cores_are_grouped_by_package_and_node_with_siblings_together():
    groups = core_groups(TWO_SOCKET.cpus, TWO_SOCKET)
    assert [g.heading for g in groups] == [
        "package 0 · node 0: cpus 0-15,32-47",
        "package 1 · node 1: cpus 16-31,48-63",
    ]
    assert {g.shape for g in groups} == {"16 cores x 2 threads"}
    assert groups[0].units[:2] == ((0, 32), (1, 33))  # positions: here the CPU ids
    epyc = core_groups(EPYC.cpus, EPYC)
    assert [g.short for g in epyc] == ["p0·n0", "p0·n1", "p1·n2", "p1·n3"]
    assert sorted(i for g in epyc for unit in g.units for i in unit) == list(range(256))


def test_nothing_to_group_without_topology_or_with_one_node_and_no_smt():
    assert core_groups(VM.cpus, VM) == ()
    assert core_groups(TWO_SOCKET.cpus, None) == ()
    assert core_groups((0, 1, 999), TWO_SOCKET) == ()  # a CPU it does not know


def test_the_physical_cores_are_counted_only_where_smt_shares_them():
    assert TWO_SOCKET.smt_cores(TWO_SOCKET.cpus) == 32
    assert TWO_SOCKET.smt_cores((*range(16), *range(32, 48))) == 16  # package 0
    assert TWO_SOCKET.smt_cores(tuple(range(16, 48))) is None  # no two on one core
    assert TWO_SOCKET.smt_cores(tuple(range(16))) is None  # one thread a core
    assert VM.smt_cores(VM.cpus) is None


def topology_app(topology):
    return make_app(cores=len(topology.cpus), topology=topology)


async def test_at_200x60_two_sockets_show_bars_under_headings_siblings_bracketed():
    app = topology_app(TWO_SOCKET)
    async with app.run_test(size=(200, 60)) as pilot:
        await sampled(pilot)
        lines = grid_text(app)
        assert lines[0].startswith("64 cores  avg ") and lines[1].startswith("experiment")
        assert lines[2] == "package 0 · node 0: cpus 0-15,32-47, 16 cores x 2 threads"
        body = "\n".join(lines[2:])
        assert "package 1 · node 1: cpus 16-31,48-63" in body
        assert body.count("%") == 64
        # The two threads of core 0, CPUs 0 and 32, one above the other, bracketed.
        assert lines[3].startswith("┌ 0 ") and lines[4].startswith("└32 ")
        assert app.query_one(ScalingChart).physical == 32  # for the chart to mark


async def test_at_200x60_256_threads_show_a_row_of_heat_cells_per_node():
    app = topology_app(EPYC)
    async with app.run_test(size=(200, 60)) as pilot:
        await sampled(pilot)
        lines = grid_text(app)
        headings = [line for line in lines if line.startswith("package ")]
        assert len(headings) == 4 and headings[3].startswith("package 1 · node 3: cpus 96-127")
        assert glyphs(lines) == 256
        # A core's two threads side by side, a space between cores.
        row = lines[3].split()
        assert row[0] == "0" and all(len(pair) == 2 for pair in row[1:]) and len(row) == 33


async def test_at_80x24_the_groups_get_short_labels_or_the_plain_grid():
    app = topology_app(TWO_SOCKET)
    async with app.run_test(size=(80, 24)) as pilot:
        await sampled(pilot)
        await pilot.press("v")  # the results view: the cores and the table
        await pilot.pause()
        lines = grid_text(app)
        assert lines[2].startswith("p0·n0 ") and lines[3].startswith("p1·n1 ")
        assert glyphs(lines) == 64
    app = topology_app(EPYC)
    async with app.run_test(size=(80, 24)) as pilot:
        await sampled(pilot)
        await pilot.press("v")
        await pilot.pause()
        lines = grid_text(app)
        # No room for four groups: the plain grid, every core still shown.
        assert not any(line.startswith(("p0", "package")) for line in lines)
        assert glyphs(lines) == 256


class GridApp(App):
    """The grid alone, its sample set once: no sampling timer."""

    def __init__(self, topology):
        super().__init__()
        self.topology = topology
        self.sampler = FakeSampler.pattern(len(topology.cpus))

    def compose(self) -> ComposeResult:
        yield CoreGrid(self.sampler.budget.affinity, topology=self.topology)

    def on_mount(self) -> None:
        self.query_one(CoreGrid).sample = self.sampler.sample()


async def test_a_grouped_sample_repaints_only_the_lines_that_look_different(monkeypatch):
    app = GridApp(TWO_SOCKET)
    async with app.run_test(size=(200, 60)) as pilot:
        await pilot.pause()
        grid = app.query_one(CoreGrid)
        first = grid.sample
        assert first is not None
        grid.sample = replace(first, percents=tuple(p + 0.001 for p in first.percents))
        await pilot.pause()  # drawn once after the app's styles settled
        repaints: list[tuple] = []
        original = CoreGrid.refresh

        def counted(self, *regions, **kwargs):
            repaints.append(regions)
            return original(self, *regions, **kwargs)

        monkeypatch.setattr(CoreGrid, "refresh", counted)
        # CPUs 48 and 50, the siblings of 16 and 18, trade loads: the averages stay, and
        # only their line under package 1's heading changes.
        changed = list(first.percents)
        changed[48], changed[50] = changed[50], changed[48]
        grid.sample = replace(first, percents=tuple(changed))
        await pilot.pause()
        regions = [region for call in repaints for region in call]
        lines = grid_text(app)
        first_line, last_line = (
            next(y for y, text in enumerate(lines) if f"└{cpu} " in text) for cpu in (48, 50)
        )
        heading = lines.index("package 1 · node 1: cpus 16-31,48-63, 16 cores x 2 threads")
        assert heading < first_line <= last_line
        assert [(r.y, r.height) for r in regions] == [(first_line, last_line - first_line + 1)]


@pytest.mark.parametrize("tree", ["two-socket", "epyc-256"])
def test_snapshot_grouped_cores_200x60(snap_compare, tree):
    topology = read_topology(TREES / tree)
    busy = FakeSampler.pattern(len(topology.cpus), tree_cores=12.5, other_cores=0.1)
    app = make_app(cores=len(topology.cpus), sampler=busy, topology=topology)
    assert snap_compare(app, terminal_size=(200, 60), run_before=sampled)


class ChartApp(App):
    def __init__(self, physical: int | None):
        super().__init__()
        self.physical = physical

    def compose(self) -> ComposeResult:
        yield ScalingChart(cores=64, physical=self.physical)


async def chart_drawn(
    counts: tuple[int, ...], physical: int | None
) -> tuple[ScalingChart, list[str]]:
    """The chart of cv-eval at `counts` evaluation cores, and its lines of text."""
    app = ChartApp(physical)
    async with app.run_test(size=(120, 30)) as pilot:
        chart = app.query_one(ScalingChart)
        chart.results = tuple(make_result("cv-eval", 1, p, 32.0 / min(p, 24)) for p in counts)
        await pilot.pause()
        return chart, chart.render().plain.splitlines()


async def test_the_chart_marks_the_physical_core_count_where_the_counts_pass_it():
    chart, lines = await chart_drawn((1, 2, 4, 8, 16, 32, 64), physical=32)
    assert f"{PHYSICAL} 32 physical cores" in chart.key
    axis_row = next(i for i, line in enumerate(lines) if "└" in line)
    start = lines[axis_row].index("└") + 1
    assert chart.axis is not None
    column = start + chart.axis.column(32)
    marks = [line[column] for line in lines[:axis_row]]
    assert marks.count(PHYSICAL) >= len(marks) // 2  # a line, under the points on it


@pytest.mark.parametrize(("counts", "physical"), [((1, 2, 4, 8, 16), 32), ((1, 64), None)])
async def test_no_physical_mark_below_it_or_without_smt(counts, physical):
    chart, lines = await chart_drawn(counts, physical)
    assert not any(PHYSICAL in entry for entry in chart.key)
    assert not any(PHYSICAL in line for line in lines)
