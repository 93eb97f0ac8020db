"""The results history as one HTML page to look at and share.

The page stands alone: its style and its charts are inline (CSS, SVG), with no script, font
or image to fetch, so it reads the same offline, attached to a mail or printed. Each sweep
gets a section: its heading, a scaling chart (fit time against cores used, a series per way
of splitting the cores, the sweep's scaling model with its band), and the table, summary
and model lines of the Markdown export; then a table of the single runs. Like the other
exports it is written as it is read, a sweep or a batch of runs at a time.
"""

from __future__ import annotations

import html
import itertools
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from cpulab import __version__
from cpulab.engine.models import AMDAHL, ScalingModel
from cpulab.engine.presentation import (
    SCALING_HEADER,
    best_splits_line,
    fit_summary,
    flag_text,
    model_lines,
    point_notes,
    scaling_rows,
    task_label,
    variant_label,
)
from cpulab.engine.stats import AmdahlFit, PointStats, ScalingPoint, ScalingReport, analyse_scaling

if TYPE_CHECKING:
    from cpulab.engine.export import SweepView
    from cpulab.engine.store import ResultStore, StoredPoint

# How a split spends its cores, in the order the chart lists them: a series each. The app's
# chart groups a sweep's points the same way.
STRATEGY_TITLES = {
    "train": "training cores (t x 1)",
    "eval": "evaluation cores (1 x e)",
    "mixed": "training and evaluation (t x e)",
}
# Beyond this ratio of the most to the fewest cores, the x axis is log2: 1 to 64 cores
# on a linear axis would crowd every point but the last into its left edge.
LOG_AXIS_RATIO = 8
CURVE_SAMPLES = 64  # points along each drawn curve
BAND_EVERY = 4  # a band's edge takes every 4th of those: each sorts every bootstrap refit
DODGE = 8  # how far apart series stand where they meet at a core count

# The chart's geometry, in viewBox units; the page scales it to its width.
WIDTH, PLOT_TOP, PLOT_HEIGHT = 720, 16, 260
PLOT_LEFT, PLOT_RIGHT = 64, 704
LEGEND_ROW, CHAR_WIDTH = 20, 6.6  # font-size 12: roughly how wide a character is

RUNS_HEADER = (
    "id", "when", "machine", "task", "scale", "split", "median s", "MAD s", "n", "score",
    "flags",
)  # fmt: skip
# Numbers align right; long text may wrap; the rest stays on one line.
NUMERIC = ("id", "cores", "median s", "MAD s", "n", "speedup", "efficiency", "Karp-Flatt")
COLUMN_CLASSES = {
    **{name: ' class="num"' for name in NUMERIC},
    **{name: ' class="text"' for name in ("machine", "task", "flags")},
}
RUN_ROWS_PER_CHUNK = 500


def html_chunks(
    store: ResultStore,
    task: str | None = None,
    machine: int | str | None = None,
    clock: Callable[[], float] = time.time,
) -> Iterator[str]:
    """The page: its head, a section per sweep, the single runs a batch of rows at a
    time, its end."""
    # The export module lists this exporter among its own; its readers are used from here.
    from cpulab.engine.export import single_runs, sweep_views

    machines = {m.id: m.label for m in store.machines()}
    yield _page_head(str(store.path), clock(), task, machine)
    empty = True
    for view in sweep_views(store, task, machine):
        empty = False
        yield _sweep_section(view, machines)
    runs = single_runs(store, task, machine)
    first = next(runs, None)
    if first is not None:
        empty = False
        yield from _runs_section(itertools.chain([first], runs), machines)
    if empty:
        matching = " that match" if task is not None or machine is not None else ""
        yield f'<p class="empty">No stored sweeps or runs{matching}: nothing to report.</p>\n'
    yield _PAGE_END


# The page


def _text(value: object) -> str:
    return html.escape(str(value))


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).astimezone().strftime("%Y-%m-%d %H:%M %Z")


def _page_head(path: str, now: float, task: str | None, machine: int | str | None) -> str:
    chosen = [f"task {_text(task)}"] if task is not None else []
    chosen += [f"machine {_text(machine)}"] if machine is not None else []
    only = f'<p class="meta">Only {" and ".join(chosen)}.</p>' if chosen else ""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="color-scheme" content="light dark">\n'
        f"<title>cpulab results</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n<main>\n"
        f'<header>\n<h1>cpulab results</h1>\n<p class="meta">Made {_text(_when(now))} from '
        f"<code>{_text(path)}</code> by cpulab {_text(__version__)}.</p>{only}\n</header>\n"
    )


_PAGE_END = "</main>\n</body>\n</html>\n"


def _table(
    header: Sequence[str], rows: Iterable[Sequence[str]], classes: Iterable[str] = ()
) -> Iterator[str]:
    """A table's opening, each row, its end."""
    column = [COLUMN_CLASSES.get(name, "") for name in header]
    head = "".join(f"<th{css}>{_text(name)}</th>" for name, css in zip(header, column, strict=True))
    yield f'<div class="table"><table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n'
    for row, row_class in itertools.zip_longest(rows, classes, fillvalue=""):
        cells = "".join(
            f"<td{css}>{_text(cell)}</td>" for cell, css in zip(row, column, strict=True)
        )
        yield f'<tr class="{row_class}">{cells}</tr>\n' if row_class else f"<tr>{cells}</tr>\n"
    yield "</tbody>\n</table></div>\n"


def _sweep_section(view: SweepView, machines: dict[int, str]) -> str:
    record, report = view.record, view.report
    if view.first is None:
        return ""  # kept, but no point of it can be read: a damaged store's
    named = variant_label(record.task, view.first.variant)  # shared by its points
    status = _text(record.status) + (f": {_text(record.error)}" if record.error else "")
    ended = f" to {_text(_when(record.finished_at))}" if record.finished_at else ""
    best = {id(p) for p in report.best_per_cores.values()} if len(report.points) > 1 else set()
    # In bold where a core count has more than one split: the one that won.
    chose = len(report.best_per_cores) < len(report.points)
    best_rows = ["best" if chose and id(p) in best else "" for p in report.points]
    parts = [
        f'<section class="sweep" id="sweep-{record.id}">\n',
        f"<h2>Sweep {record.id}: {_text(named)} ({_text(record.scale)}), "
        f"strategy {_text(record.strategy)}</h2>\n",
        f'<p class="meta"><span class="status status-{_text(record.status)}">{status}</span> '
        f"· {_text(machines.get(record.machine_id, ''))} · {record.repeats} "
        f"{'repeat' if record.repeats == 1 else 'repeats'}, "
        f"{record.warmup} warm-up · {_text(_when(record.started_at))}{ended}</p>\n",
        f"<figure>\n{scaling_chart(report, f'sweep-{record.id}', view.model)}\n<figcaption>"
        "Each point is the median fit time of its runs, its bar spans the fastest to the "
        "slowest; a hollow point is a slower split of its core count."
        f"{_model_caption(view.model)}</figcaption>\n</figure>\n",
        *_table(SCALING_HEADER, scaling_rows(report), best_rows),
        '<p class="summary">' + _text(fit_summary(report)),
    ]
    splits = best_splits_line(report)
    parts.append(f"; {_text(splits)}.</p>\n" if splits else ".</p>\n")
    if best:
        parts.append('<p class="note">* the fastest split of its cores</p>\n')
    baseline = report.baseline.median if report.baseline else None
    model = model_lines(view.model_summary, view.first.available, baseline=baseline)
    if model:
        parts.append('<ul class="model-lines">\n')
        parts += [f"<li>{_text(line)}</li>\n" for line in model]
        parts.append("</ul>\n")
    notes = point_notes(report) + report.warnings()
    if notes:
        parts.append('<ul class="warnings">\n')
        parts += [f"<li>{_text(note)}</li>\n" for note in notes]
        parts.append("</ul>\n")
    parts.append("</section>\n")
    return "".join(parts)


def _model_caption(model: ScalingModel | None) -> str:
    if model is None:
        return ""
    band = (
        f", in a band of {model.confidence:.0%} of its bootstrap refits"
        if model.intervals_known
        else ""
    )
    return f" The solid line is the sweep's scaling model{band}."


def _run_cells(stored: StoredPoint, machines: dict[int, str]) -> list[str]:
    r, s = stored.result, PointStats.of(stored.result.fit_times)
    score = "-" if r.score is None else f"{r.score:.4g} {r.metric}"
    return [
        str(stored.id), _when(stored.created_at), machines.get(stored.machine_id, ""),
        task_label(r), r.scale, f"{r.train} x {r.eval}", f"{s.median:.3f}", f"{s.mad:.3f}",
        str(s.n), score, flag_text(r.flags),
    ]  # fmt: skip


def _runs_section(runs: Iterator[StoredPoint], machines: dict[int, str]) -> Iterator[str]:
    rows = _table(RUNS_HEADER, (_run_cells(stored, machines) for stored in runs))
    yield '<section class="runs" id="single-runs">\n<h2>Single runs</h2>\n' + next(rows)
    while chunk := "".join(itertools.islice(rows, RUN_ROWS_PER_CHUNK)):
        yield chunk
    yield "</section>\n"


# The chart


@dataclass(frozen=True)
class ChartSeries:
    """A sweep's points of one way of splitting the cores, its 1 x 1 point first."""

    strategy: str
    points: tuple[ScalingPoint, ...]
    fit: AmdahlFit | None  # T(p) = a + b/p through these points; None where it means nothing


def split_strategy(point: ScalingPoint) -> str:
    if point.eval == 1:
        return "train"
    if point.train == 1:
        return "eval"
    return "mixed"


def chart_series(report: ScalingReport) -> list[ChartSeries]:
    """One series per strategy that the sweep's points use; the 1 x 1 point starts each."""
    base = tuple(p for p in report.points if p.cores == 1)
    members: dict[str, list[ScalingPoint]] = {name: [] for name in STRATEGY_TITLES}
    for point in report.points:
        if point.cores > 1:
            members[split_strategy(point)].append(point)
    series = []
    for name, points in members.items():
        if points:
            chosen = base + tuple(points)
            fit = analyse_scaling((p.train, p.eval, p.stats) for p in chosen).fit
            # A fit whose b is not positive says only that more cores did not help: the
            # table says that better than a curve with a meaningless serial fraction.
            usable = fit if fit is not None and fit.b > 0 and fit.a + fit.b > 0 else None
            series.append(ChartSeries(name, chosen, usable))
    return series


@dataclass(frozen=True)
class Axis:
    """Maps values onto a span of the chart: cores along x (linear or log2), seconds up y."""

    low: float
    high: float
    start: float  # where `low` lands
    end: float  # where `high` lands
    log2: bool = False

    def __call__(self, value: float) -> float:
        v = math.log2(value) if self.log2 else value
        return self.start + (v - self.low) / (self.high - self.low) * (self.end - self.start)


def _nice_step(span: float, count: int, steps: Sequence[float] = (1, 2, 2.5, 5)) -> float:
    raw = span / count
    magnitude = 10 ** math.floor(math.log10(raw))
    return next((m * magnitude for m in steps if m * magnitude >= raw), 10 * magnitude)


def _core_axis(cores: Sequence[int]) -> tuple[Axis, list[int]]:
    fewest, most = min(cores), max(cores)
    if most / fewest > LOG_AXIS_RATIO:
        low, high = math.log2(fewest), math.log2(most)
        pad = (high - low) * 0.04
        ticks = [2**k for k in range(math.ceil(low), math.floor(high) + 1)]
        return Axis(low - pad, high + pad, PLOT_LEFT, PLOT_RIGHT, log2=True), ticks
    if most == fewest:
        return Axis(fewest - 1, most + 1, PLOT_LEFT, PLOT_RIGHT), [fewest]
    pad = (most - fewest) * 0.04
    step = max(1, round(_nice_step(most - fewest, 8, (1, 2, 5))))
    ticks = [c for c in range(fewest, most + 1) if c % step == 0 or c == fewest]
    if len(ticks) > 1 and ticks[1] - ticks[0] < step / 2:  # the fewest, crowding the next
        del ticks[1]
    return Axis(fewest - pad, most + pad, PLOT_LEFT, PLOT_RIGHT), ticks


def _time_axis(highest: float) -> tuple[Axis, list[float], int]:
    step = _nice_step(highest if highest > 0 else 1.0, 5)
    top = math.ceil(highest * 1.02 / step) * step or step
    ticks = [n * step for n in range(round(top / step) + 1)]
    digits = max(0, -math.floor(math.log10(step))) + (1 if f"{step:.3g}".endswith("25") else 0)
    bottom = PLOT_TOP + PLOT_HEIGHT
    return Axis(0.0, top, bottom, PLOT_TOP), ticks, digits


def _along(x: Axis, fewest: int, most: int) -> list[float]:
    """CURVE_SAMPLES + 1 core counts from the fewest to the most, evenly along x."""
    if x.log2:
        return [2 ** (math.log2(fewest) + (math.log2(most) - math.log2(fewest)) * i / CURVE_SAMPLES)
                for i in range(CURVE_SAMPLES + 1)]  # fmt: skip
    return [fewest + (most - fewest) * i / CURVE_SAMPLES for i in range(CURVE_SAMPLES + 1)]


def _curve(x: Axis, y: Axis, fewest: int, most: int, seconds: Callable[[float], float]) -> str:
    """A polyline's points: seconds(p) from the fewest to the most cores, evenly along x."""
    return " ".join(f"{x(p):.1f},{y(seconds(p)):.1f}" for p in _along(x, fewest, most))


def _band(x: Axis, y: Axis, fewest: int, most: int, model: ScalingModel) -> str:
    """A polygon's points: the model's interval of the time at whole core counts along x,
    its high end left to right, then its low end back (intervals exist at whole counts)."""
    counts = sorted({round(p) for p in _along(x, fewest, most)[::BAND_EVERY]})
    times = [model.predict(p).time for p in counts]
    high = [f"{x(p):.1f},{y(t.high):.1f}" for p, t in zip(counts, times, strict=True)]
    low = [f"{x(p):.1f},{y(t.low):.1f}" for p, t in zip(counts, times, strict=True)]
    return " ".join(high + low[::-1])


def _between(fit: AmdahlFit) -> Callable[[float], float]:
    """The fit's time between whole core counts too: where a curve passes."""
    return lambda p: fit.a + fit.b / p


def _marker(shape: int, cx: float, cy: float, css: str) -> str:
    if shape == 1:  # a square
        return f'<rect class="{css}" x="{cx - 4:.1f}" y="{cy - 4:.1f}" width="8" height="8"/>'
    if shape == 2:  # a diamond
        return f'<path class="{css}" d="M{cx:.1f} {cy - 5.5:.1f}l5.5 5.5l-5.5 5.5l-5.5 -5.5z"/>'
    return f'<circle class="{css}" cx="{cx:.1f}" cy="{cy:.1f}" r="4.5"/>'


def _point(point: ScalingPoint, x: float, y: Axis, shape: int, css: str) -> str:
    s = point.stats
    bar = ""
    if s.max > s.min:
        top, bottom = y(s.max), y(s.min)
        bar = (
            f'<path class="bar" d="M{x:.1f} {top:.1f}V{bottom:.1f}'
            f'M{x - 3:.1f} {top:.1f}h6M{x - 3:.1f} {bottom:.1f}h6"/>'
        )
    tip = (
        f"{point.train} x {point.eval}: median {s.median:.3f} s, min {s.min:.3f}, "
        f"max {s.max:.3f}, n={s.n}"
    )
    return f"<g><title>{_text(tip)}</title>{bar}{_marker(shape, x, y(s.median), css)}</g>"


def _legend(entries: list[tuple[str, str]], top: float) -> tuple[list[str], float]:
    """Entries (a swatch's SVG at the origin, a label) left to right, wrapped to rows; the
    elements and the height they take."""
    parts, x, row = [], float(PLOT_LEFT), 0
    for swatch, label in entries:
        width = 28 + len(label) * CHAR_WIDTH + 18
        if x + width > PLOT_RIGHT and x > PLOT_LEFT:
            x, row = float(PLOT_LEFT), row + 1
        y = top + row * LEGEND_ROW
        parts.append(
            f'<g transform="translate({x:.1f} {y:.1f})">{swatch}'
            f'<text x="28" y="4">{_text(label)}</text></g>'
        )
        x += width
    return parts, (row + 1) * LEGEND_ROW


def scaling_chart(report: ScalingReport, ident: str, model: ScalingModel | None = None) -> str:
    """The sweep's fit times against cores used, as an inline SVG: each point with its
    min-to-max bar, a series per strategy with its Amdahl fit, the ideal T1/p line, and
    the sweep's scaling model (engine/models.py) with the band of its intervals, where the
    runs give them. The model spans the measured core counts, as the axis does: its
    predictions beyond them are in the lines below the chart."""
    series = chart_series(report)
    cores = [p.cores for p in report.points]
    fewest, most = min(cores), max(cores)
    x, x_ticks = _core_axis(cores)
    base = report.baseline.median if report.baseline else None
    highest = max(p.stats.max for p in report.points)
    for s in series:
        if s.fit is not None:
            highest = max(highest, s.fit.predict(fewest))
    if model is not None:
        highest = max(highest, model.best.time(fewest))
    y, y_ticks, digits = _time_axis(highest)
    bottom = PLOT_TOP + PLOT_HEIGHT

    parts = [f'<clipPath id="{ident}-plot"><rect x="{PLOT_LEFT}" y="{PLOT_TOP}" '
             f'width="{PLOT_RIGHT - PLOT_LEFT}" height="{PLOT_HEIGHT}"/></clipPath>']  # fmt: skip
    for tick in y_ticks:
        at = y(tick)
        parts.append(
            f'<line class="grid" x1="{PLOT_LEFT}" x2="{PLOT_RIGHT}" y1="{at:.1f}" y2="{at:.1f}"/>'
            f'<text class="tick" x="{PLOT_LEFT - 8}" y="{at + 4:.1f}" text-anchor="end">'
            f"{tick:.{digits}f}</text>"
        )
    for tick in x_ticks:
        at = x(tick)
        parts.append(
            f'<line class="grid" x1="{at:.1f}" x2="{at:.1f}" y1="{PLOT_TOP}" y2="{bottom}"/>'
            f'<text class="tick" x="{at:.1f}" y="{bottom + 18}" text-anchor="middle">{tick}</text>'
        )
    parts.append(
        f'<path class="axis" d="M{PLOT_LEFT} {PLOT_TOP}V{bottom}H{PLOT_RIGHT}"/>'
        f'<text class="label" x="{(PLOT_LEFT + PLOT_RIGHT) / 2}" y="{bottom + 40}" '
        f'text-anchor="middle">cores used (train x eval){", log2 scale" if x.log2 else ""}'
        f'</text><text class="label" transform="translate(16 {PLOT_TOP + PLOT_HEIGHT / 2}) '
        'rotate(-90)" text-anchor="middle">fit time, s</text>'
    )

    def across(n: int, point: ScalingPoint) -> float:
        """Where series n draws a point: series that meet at a core count stand a little
        apart, so that none hides another; the 1 x 1 point, every series' first, does not."""
        shift = (n - (len(series) - 1) / 2) * DODGE if point.cores > 1 else 0.0
        return x(point.cores) + shift

    lines = [f'<g clip-path="url(#{ident}-plot)">']
    if model is not None and model.intervals_known and most > fewest:
        lines.append(f'<polygon class="band" points="{_band(x, y, fewest, most, model)}"/>')
    if base is not None and most > fewest:
        lines.append(
            f'<polyline class="ideal" points="{_curve(x, y, fewest, most, lambda p: base / p)}"/>'
        )
    for n, s in enumerate(series):
        if s.fit is not None:
            line = _curve(x, y, fewest, most, _between(s.fit))
        else:  # no curve to draw: the points joined in order show the series
            line = " ".join(f"{across(n, p):.1f},{y(p.stats.median):.1f}" for p in s.points)
        css = "fit" if s.fit is not None else "join"
        lines.append(f'<polyline class="{css} s{n}" points="{line}"/>')
    if model is not None and most > fewest:
        curve = _curve(x, y, fewest, most, model.best.time)
        lines.append(f'<polyline class="model" points="{curve}"/>')
    lines.append("</g>")
    parts += lines

    best = {id(p) for p in report.best_per_cores.values()}
    for n, s in enumerate(series):
        for p in s.points:
            if p.cores > 1:
                hollow = "" if id(p) in best else " hollow"
                parts.append(_point(p, across(n, p), y, n, f"mark s{n}{hollow}"))
    for p in report.points:
        if p.cores == 1:  # the baseline of every series: drawn once
            parts.append(_point(p, x(p.cores), y, 0, "mark base"))

    entries = [(_marker(n, 12, 0, f"mark s{n}"), STRATEGY_TITLES[s.strategy])
               for n, s in enumerate(series)]  # fmt: skip
    if any(p.cores == 1 for p in report.points):
        entries.insert(0, (_marker(0, 12, 0, "mark base"), "1 x 1 (baseline)"))
    if any(s.fit is not None for s in series):
        entries.append(('<path class="fit swatch" d="M0 0h24"/>', "Amdahl fit a + b/p"))
    if base is not None and most > fewest:
        entries.append(('<path class="ideal swatch" d="M0 0h24"/>', "ideal T1/p"))
    if model is not None and most > fewest:
        name = "Amdahl's law" if model.chosen == AMDAHL else "USL"
        swatch = '<path class="model swatch" d="M0 0h24"/>'
        if model.intervals_known:
            swatch = '<rect class="band" x="0" y="-5" width="24" height="10"/>' + swatch
            name += f", {model.confidence:.0%} band"
        entries.append((swatch, f"model: {name}"))
    legend, legend_height = _legend(entries, bottom + 66)
    parts += legend
    height = bottom + 66 + legend_height - 6
    title = f"Scaling chart: fit time against cores used, {len(report.points)} points"
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height:.0f}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{_text(title)}</title>'
        + "".join(parts)
        + "</svg>"
    )


_STYLE = """
:root {
  --bg: #ffffff; --fg: #1c2128; --muted: #5b6570; --rule: #d8dee4; --panel: #f6f8fa;
  --grid: #e6eaef; --s0: #1f6feb; --s1: #d1570a; --s2: #2e8540; --warn: #9a6700;
  --ok: #1a7f37; --bad: #cf222e;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
    sans-serif;
  color: var(--fg); background: var(--bg); line-height: 1.5;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0d1117; --fg: #e6edf3; --muted: #9198a1; --rule: #30363d; --panel: #161b22;
    --grid: #21262d; --s0: #58a6ff; --s1: #f0883e; --s2: #56d364; --warn: #d29922;
    --ok: #3fb950; --bad: #f85149;
  }
}
body { margin: 0; }
main { max-width: 64rem; margin: 0 auto; padding: 1.5rem 1.25rem 3rem; }
h1 { font-size: 1.75rem; margin: 0 0 .25rem; }
h2 { font-size: 1.25rem; margin: 0 0 .25rem; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .9em;
  overflow-wrap: anywhere; }
.meta, .note, figcaption { color: var(--muted); font-size: .9rem; margin: 0 0 .75rem; }
header { border-bottom: 1px solid var(--rule); margin-bottom: 1.5rem; }
section { margin: 0 0 2.5rem; }
.status { font-weight: 600; }
.status-done { color: var(--ok); }
.status-failed, .status-interrupted { color: var(--bad); }
.status-cancelled { color: var(--warn); }
figure { margin: 0 0 1rem; }
figcaption { margin-top: .25rem; }
svg.chart { display: block; width: 100%; height: auto; font-size: 12px;
  font-family: inherit; }
svg.chart text { fill: var(--fg); }
svg.chart .tick { fill: var(--muted); font-variant-numeric: tabular-nums; }
svg.chart .grid { stroke: var(--grid); stroke-width: 1; }
svg.chart .axis { stroke: var(--muted); fill: none; stroke-width: 1; }
svg.chart .bar { stroke: var(--muted); stroke-width: 1.25; fill: none; }
svg.chart polyline, svg.chart .swatch { fill: none; stroke-width: 2; }
svg.chart .fit { stroke-dasharray: 7 4; }
svg.chart .join { stroke-width: 1.25; opacity: .6; }
svg.chart .ideal { stroke: var(--muted); stroke-dasharray: 2 3; stroke-width: 1.5; }
svg.chart .swatch.fit { stroke: var(--fg); }
svg.chart .model { stroke: var(--fg); stroke-width: 1.5; }
svg.chart .band { fill: var(--fg); opacity: .12; stroke: none; }
svg.chart .mark { stroke-width: 1.75; }
svg.chart .s0 { stroke: var(--s0); } svg.chart .mark.s0 { fill: var(--s0); }
svg.chart .s1 { stroke: var(--s1); } svg.chart .mark.s1 { fill: var(--s1); }
svg.chart .s2 { stroke: var(--s2); } svg.chart .mark.s2 { fill: var(--s2); }
svg.chart .mark.base { fill: var(--fg); stroke: var(--fg); }
svg.chart .mark.hollow { fill: var(--bg); }
.table { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; margin: 0 0 .75rem; }
th, td { padding: .3rem .6rem; text-align: left; border-bottom: 1px solid var(--rule);
  white-space: nowrap; }
td.text { white-space: normal; min-width: 6rem; }
th { background: var(--panel); font-weight: 600; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.best td { font-weight: 600; }
.summary { margin: 0 0 .5rem; }
.warnings { color: var(--warn); font-size: .9rem; margin: 0; padding-left: 1.25rem; }
.model-lines { font-size: .9rem; margin: 0 0 .5rem; padding-left: 1.25rem; }
.empty { color: var(--muted); font-style: italic; }
@media print {
  :root {
    --bg: #fff; --fg: #000; --muted: #444; --rule: #bbb; --panel: #eee; --grid: #ddd;
    --s0: #1f6feb; --s1: #d1570a; --s2: #2e8540; --warn: #9a6700; --ok: #1a7f37;
    --bad: #cf222e;
  }
  main { max-width: none; padding: 0; }
  section, figure, tr { break-inside: avoid; }
  h2 { break-after: avoid; }
  .table { overflow: visible; }
}
"""
