"""`cpulab export --format html`: one page that stands alone, a chart and a table per sweep."""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from cpulab.engine.export import export_text
from cpulab.engine.models import fit_scaling, model_points
from cpulab.engine.report_html import chart_series, scaling_chart
from cpulab.engine.stats import PointStats, analyse_scaling
from cpulab.engine.store import ResultStore
from support.cli import cpulab
from support.store import ALPHA, BETA, result

# Elements that have no end tag.
VOID = {"meta", "br", "hr", "img", "input", "link", "col", "wbr", "area", "base", "source"}
GRID_TIMES = {
    (1, 1): [0.61, 0.6, 0.64],
    (1, 2): [0.33, 0.31, 0.32],
    (2, 1): [0.42, 0.4, 0.45],
    (2, 2): [0.19, 0.18, 0.2],
}
VARIANT = "flowers.csv:species"


class Page(HTMLParser):
    """The page's elements, checked to nest as they open and close."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: dict[str, list[str]] = {}  # text inside each element kind, as it reads
        self.urls: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self.urls += [v for _, v in attrs if v and re.search(r"https?://", v)]
        if tag not in VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag, attrs):  # <circle/>: inside an SVG, it closes itself
        self.tags.append((tag, dict(attrs)))
        self.urls += [v for _, v in attrs if v and re.search(r"https?://", v)]

    def handle_endtag(self, tag):
        if not self.open or self.open[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.open[-1:] or 'nothing'}")
        else:
            self.open.pop()

    def handle_data(self, data):
        for tag in set(self.open):
            self.text.setdefault(tag, []).append(data)

    def all_text(self, tag: str) -> str:
        return "".join(self.text.get(tag, []))


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    assert page.problems == [] and page.open == []
    return page


def sections(text: str) -> list[str]:
    return re.findall(r'<section class="sweep".*?</section>', text, flags=re.DOTALL)


@pytest.fixture
def report_store(results_store) -> Path:
    with ResultStore.open(results_store) as store:
        grid = store.start_sweep("cv-eval", "small", "grid", [1, 2, 4], 3, 1, ALPHA)
        for (train, eval_), times in GRID_TIMES.items():
            store.add_point(result(train, eval_, task="cv-eval", fit_times=times), grid)
        store.finish_sweep(grid, "done")
        theirs = store.start_sweep("cv-eval", "small", "eval", [1, 2], 3, 1, BETA)
        for eval_, times in ((1, [0.9, 0.91, 0.95]), (2, [0.5, 0.52, 0.55])):
            store.add_point(
                result(1, eval_, task="cv-eval", variant=VARIANT, fit_times=times, machine=BETA),
                theirs,
            )
        store.finish_sweep(theirs, "failed", "the runner <died> & said so")
        store.add_point(result(1, 1, fit_times=[1.25, 1.5, 1.75]))
        store.add_point(result(4, 1, fit_times=[0.375, 0.4, 0.45], task="rf-<b>train</b>"))
    return results_store


def test_the_page_has_a_chart_and_the_table_of_each_sweep_and_the_single_runs(
    report_store, tmp_path
):
    out = tmp_path / "report.html"
    done = cpulab("export", "--format", "html", "--out", str(out))
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    text = out.read_text(encoding="utf-8")
    page = parse(text)
    tags = [tag for tag, _ in page.tags]

    assert text.startswith("<!DOCTYPE html>")
    assert f"from {report_store}" in page.all_text("header")
    assert tags.count("section") == 3 and tags.count("svg") == 2  # two sweeps, the runs
    grid, variant = sections(text)
    for section in (grid, variant):
        assert section.count("<svg") == 1 and section.count("<table>") == 1

    # Every point's median is in its own sweep's table.
    for (train, eval_), times in GRID_TIMES.items():
        median = f"{PointStats.of(times).median:.3f}"
        assert re.search(rf"<td[^>]*>{train} x {eval_}( \*)?</td><td[^>]*>{median}</td>", grid)
    assert re.search(r"<td[^>]*>1 x 2 \*</td><td[^>]*>0.520</td>", variant)

    # The headings: task with variant, scale, strategy; the status and machine beside them.
    headings = re.findall(r"<h2>(.*?)</h2>", text)
    assert headings[0].endswith(": cv-eval (small), strategy grid")
    assert headings[1].endswith(": cv-eval [flowers.csv:species] (small), strategy eval")
    assert headings[2] == "Single runs"
    assert "failed: the runner &lt;died&gt; &amp; said so" in variant
    assert "beta-laptop" in variant and "alpha" in grid

    # The Markdown export's summary lines.
    assert "T(p) = " in grid and "best: 2 x 2 at 0.190 s" in grid
    assert "other processes used the CPU during this point" in grid

    # The single runs, their text escaped.
    runs = text.split('<section class="runs"', 1)[1]
    assert "rf-&lt;b&gt;train&lt;/b&gt;" in runs and "<b>" not in text
    assert "1.500" in runs and "0.400" in runs

    # Nothing to fetch: no script, no style sheet, font or image from elsewhere.
    assert "script" not in tags and "link" not in tags and "img" not in tags
    assert page.urls == ["http://www.w3.org/2000/svg"] * 2  # the SVG namespace, not fetched
    assert not re.search(r"url\((?!#)|@import|https?://(?!www\.w3\.org/2000/svg)", text)


def test_the_chart_has_a_series_per_split_strategy_with_its_fit(report_store):
    with ResultStore.open(report_store, readonly=True) as store:
        points = store.points(sweep_id=1)
    report = analyse_scaling(
        (p.result.train, p.result.eval, PointStats.of(p.result.fit_times)) for p in points
    )
    series = chart_series(report)
    assert [s.strategy for s in series] == ["train", "eval", "mixed"]
    assert [[(p.train, p.eval) for p in s.points] for s in series] == [
        [(1, 1), (2, 1)],
        [(1, 1), (1, 2)],
        [(1, 1), (2, 2)],
    ]
    assert all(s.fit is not None and s.fit.b > 0 for s in series)

    svg = parse(scaling_chart(report, "sweep-1"))
    classes = [attrs.get("class") or "" for _, attrs in svg.tags]
    assert sum("fit" in c.split() for c in classes) == 3 + 1  # a curve each, and the legend's
    assert sum("ideal" in c.split() for c in classes) == 2  # the line and the legend's
    assert sum("hollow" in c.split() for c in classes) == 1  # 2 x 1: 1 x 2 is faster
    legend = svg.all_text("text")
    for label in ("1 x 1 (baseline)", "training cores", "evaluation cores", "ideal T1/p"):
        assert label in legend
    assert "log2" not in legend


def test_core_counts_that_span_more_than_8_times_get_a_log2_axis():
    report = analyse_scaling(
        (1, cores, PointStats.of([8 / cores + 0.1, 8 / cores + 0.12])) for cores in (1, 4, 16, 64)
    )
    svg = parse(scaling_chart(report, "wide"))
    assert "cores used (train x eval), log2 scale" in svg.all_text("text")
    ticks = [t for t in svg.text.get("text", []) if t.isdigit()]
    assert {"1", "2", "4", "8", "16", "32", "64"} <= set(ticks)


def test_the_page_of_an_empty_store_says_there_is_nothing(results_store):
    with ResultStore.open(results_store) as store:
        text = export_text("html", store)
    page = parse(text)
    assert "No stored sweeps or runs: nothing to report." in page.all_text("p")
    assert "svg" not in [tag for tag, _ in page.tags]

    done = cpulab("export", "--format", "html", "--task", "grid-search")
    assert done.returncode == 0, done.stderr
    assert "No stored sweeps or runs that match: nothing to report." in done.stdout
    assert "Only task grid-search." in done.stdout


@pytest.mark.parametrize("name", ["store-v1", "store-export"])
def test_the_stores_the_other_exports_are_checked_on_make_whole_pages(tmp_path, name):
    """A failed sweep, non-ASCII text, a NaN, unreadable rows: a chart for each sweep."""
    path = tmp_path / f"{name}.sqlite"
    shutil.copyfile(Path(__file__).parent / "fixtures" / f"{name}.sqlite", path)
    with ResultStore.open(path, readonly=True) as store:
        text = export_text("html", store)
        swept = sum(1 for sweep in store.iter_sweeps() if store.points(sweep_id=sweep.id))
    parse(text)
    assert len(sections(text)) == swept > 0
    assert all(section.count("<svg") == 1 for section in sections(text))


def test_the_chart_draws_the_sweeps_model_and_its_band_where_the_runs_give_one():
    times = {1: [1.0, 1.02, 0.99], 2: [0.56, 0.55, 0.57], 4: [0.33, 0.32, 0.34]}
    report = analyse_scaling((1, cores, PointStats.of(t)) for cores, t in times.items())
    model = fit_scaling(model_points(report), resamples=20)
    assert model is not None

    svg = parse(scaling_chart(report, "modelled", model))
    shapes = [(tag, attrs.get("class")) for tag, attrs in svg.tags]
    assert shapes.count(("polyline", "model")) == 1
    assert shapes.count(("polygon", "band")) == 1
    assert "model: Amdahl's law, 95% band" in svg.all_text("text")
    # The band runs along the curve: its high end above the model's time, its low below.
    band = next(attrs["points"] for tag, attrs in svg.tags if tag == "polygon")
    ys = [float(xy.split(",")[1]) for xy in (band or "").split()]
    half = len(ys) // 2
    assert all(high <= low for high, low in zip(ys[:half], reversed(ys[half:]), strict=True))

    # One run a point: no interval to draw, the curve alone.
    once = analyse_scaling((1, cores, PointStats.of(t[:1])) for cores, t in times.items())
    alone = fit_scaling(model_points(once), resamples=20)
    assert alone is not None and not alone.intervals_known
    svg = parse(scaling_chart(once, "alone", alone))
    classes = [attrs.get("class") for _, attrs in svg.tags]
    assert "band" not in classes and classes.count("model") == 1
    assert "model: Amdahl's law" in svg.all_text("text")
    assert "band" not in svg.all_text("text")
