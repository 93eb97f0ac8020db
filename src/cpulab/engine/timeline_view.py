"""A timeline drawn for a terminal: the heat strip (cores x time), the task Gantt (workers x
time) and the derived figures as lines. Rich renderables, no Textual: `cpulab show` prints
them and the app's widgets hold them.

Both views take `width` and `height` in cells, labels and time axis included, and a time
window (`start`, `end`, time.time() seconds) to zoom; without one they show the whole
timeline; given the same `label_width` too, a heat strip and a Gantt of one timeline line
up column for column.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial

from rich.text import Text

from cpulab.engine.timeline import (
    CoreSamples,
    Timeline,
    TimelineFigures,
    Window,
    diagnosis,
)

# Shading of a cell from idle to fully busy: levels for < 5 %, < 25 %, < 50 %, < 75 %, more.
SHADES = " ░▒▓█"
RAMP = ("", "green", "yellow", "dark_orange", "red")
# Gantt cells: consecutive tasks of a worker alternate two characters and two styles, so
# back-to-back tasks are told apart; a cell holding several tasks (or a span of merged
# tasks) is SEVERAL.
TASK_CHARS = ("█", "▓")
SEVERAL = "▒"
LEVEL_STYLES = (("blue", "cyan"), ("green", "bright_green"))
PHASE_STYLES = ("bold", "dim")
# Labels are cut to this many cells so the plot keeps most of an 80-column terminal.
MOST_LABEL = 14
# The narrowest window drawn, in seconds: far finer than a sample, and as fine as the
# floats of epoch times tell apart with room to spare.
LEAST_SECONDS = 0.001
# Phase names that fit narrow spans.
SHORT_PHASES = {"imports": "imp", "workers": "wrk", "warmup": "warm"}


def shade_level(percent: float) -> int:
    return 0 if percent < 5 else min(4, 1 + int(percent // 25))


def _window(timeline: Timeline, start: float | None, end: float | None) -> Window | None:
    extent = timeline.extent()
    if extent is None:
        return None
    a = extent[0] if start is None else start
    b = extent[1] if end is None else end
    return (a, b) if b > a else None


def _cut(label: str, width: int) -> str:
    return label if len(label) <= width else "…" + label[len(label) - width + 1 :]


def _message(text: str, width: int) -> Text:
    return Text(text[:width], style="dim", no_wrap=True, overflow="crop")


def _nice_step(raw: float) -> float:
    """The smallest of 1, 2, 5 x 10^k at least `raw`."""
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw * (1 - 1e-9))


def _seconds(value: float, step: float) -> str:
    decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    text = f"{value:.{decimals}f}"
    return (text.rstrip("0").rstrip(".") if decimals else text) + "s"


def _axis(window: Window, origin: float, label_width: int, plot: int) -> Text:
    """Seconds from `origin` under the plot, a label every 8 or more cells."""
    a, b = window
    dt = (b - a) / plot
    step = _nice_step((b - a) / max(1, plot // 8))
    cells = [" "] * plot
    tick = math.ceil((a - origin) / step - 1e-9)
    free = 0
    while True:
        at = origin + tick * step
        if at > b:
            break
        column = round((at - a) / dt)
        label = _seconds(tick * step, step)
        if column >= free and column + len(label) <= plot:
            cells[column : column + len(label)] = label
            free = column + len(label) + 1
        tick += 1
    return Text(" " * label_width + "".join(cells), style="dim")


def row_groups(count: int, rows: int) -> list[tuple[int, int]]:
    """`count` things in at most `rows` rows of consecutive ones, sizes differing by one at
    most: (first, stop) of each row."""
    rows = min(rows, count)
    return [(r * count // rows, (r + 1) * count // rows) for r in range(rows)]


def _columns(window: Window, plot: int) -> list[Window]:
    a, b = window
    dt = (b - a) / plot
    return [(a + c * dt, a + (c + 1) * dt) for c in range(plot)]


def samples_in(cores: CoreSamples, column: Window) -> range:
    """The samples a column shows: those it overlaps, or the one holding its middle."""
    samples = cores.sample_range(*column)
    if len(samples) == 0:
        samples = cores.sample_range((column[0] + column[1]) / 2, (column[0] + column[1]) / 2)
    return samples


def _row(label: str, label_width: int, cells: Sequence[tuple[str, str]]) -> Text:
    line = Text(label.ljust(label_width), no_wrap=True, overflow="crop")
    for char, style in cells:
        line.append(char, style=style or None)
    return line


def _phase_cells(timeline: Timeline, columns: list[Window]) -> list[tuple[str, str]]:
    """Each phase over its columns: its name where it fits, a short name or its first
    letter where not, consecutive phases in alternating styles."""
    cells = [(" ", "")] * len(columns)
    middles = [(a + b) / 2 for a, b in columns]
    for index, phase in enumerate(sorted(timeline.phases, key=lambda p: p.start)):
        span = [c for c, t in enumerate(middles) if phase.start <= t < phase.end]
        if not span:
            continue
        # A name leaves a "·" after it, so that neighbours do not run together without
        # colour; after a one-column phase's letter ("d" of data), the "·" comes first.
        lead = "·" if span[0] > 0 and cells[span[0] - 1][0] not in " ·" else ""
        room = len(span) - len(lead)
        name = phase.title
        for candidate in (name, SHORT_PHASES.get(phase.name, phase.name), name[0], ""):
            if len(candidate) < room or len(candidate) <= min(1, room):  # "" always fits
                name = candidate
                break
        style = PHASE_STYLES[index % 2]
        text = (lead + name).ljust(len(span), "·")[: len(span)]
        for c, char in zip(span, text, strict=True):
            cells[c] = (char, style)
    return cells


def _own_percent(cores: CoreSamples, sample: int) -> float:
    """The run's own share in one sample, in percent of all its cores."""
    return 100 * (cores.own_cores(sample) or 0.0) / len(cores.cores)


def _shaded(shown: list[range], percent: Callable[[int], float]) -> list[tuple[str, str]]:
    """Cells shaded by the mean percent of the samples each shows."""
    out = []
    for samples in shown:
        if len(samples) == 0:
            out.append((" ", ""))
            continue
        level = shade_level(sum(percent(i) for i in samples) / len(samples))
        out.append((SHADES[level], RAMP[level]))
    return out


def heat_strip(
    timeline: Timeline,
    width: int,
    height: int,
    start: float | None = None,
    end: float | None = None,
    label_width: int = 0,
) -> Text:
    """Cores x time, each cell shaded by how busy its core was (SHADES, coloured by RAMP).

    With more cores than rows, a row is a group of cores, labelled "0-15", shaded by the
    group's mean. Where the height leaves room, a "phase" row on top shows the phases and a
    "run" row the run's own share of all its cores; the time axis is the last line.
    """
    cores = timeline.cores
    window = _window(timeline, start, end)
    if cores is None or not cores.samples or window is None:
        return _message("no core samples recorded", width)
    wanted = (("run", bool(cores.own)), ("phase", bool(timeline.phases)))
    # One row of cores and the axis come first, then the run's share, then the phases.
    extra = [name for name, present in wanted if present][: max(0, height - 2)]
    rows = max(1, height - 1 - len(extra))
    groups = row_groups(len(cores.cores), rows)
    labels = [
        str(cores.cores[a]) if b - a == 1 else f"{cores.cores[a]}-{cores.cores[b - 1]}"
        for a, b in groups
    ]
    label_width = max(label_width, *(len(label) + 1 for label in [*labels, *extra]))
    plot = width - label_width
    if plot < 4:
        return _message("too narrow for a heat strip", width)
    columns = _columns(window, plot)
    shown = [samples_in(cores, column) for column in columns]
    lines = []
    if "phase" in extra:
        lines.append(_row("phase", label_width, _phase_cells(timeline, columns)))
    if "run" in extra:
        lines.append(_row("run", label_width, _shaded(shown, partial(_own_percent, cores))))
    for (a, b), label in zip(groups, labels, strict=True):
        percent = partial(cores.group_percent, first=a, stop=b)
        lines.append(_row(label, label_width, _shaded(shown, percent)))
    lines.append(_axis(window, timeline.origin() or window[0], label_width, plot))
    return Text("\n").join(lines)


def _task_cells(
    tasks: list[tuple[float, float, int]], columns: list[Window], styles: tuple[str, str]
) -> list[tuple[str, str]]:
    """One worker's row from its tasks in order, (start, end, count) each: a cell shows the
    task that fills most of it, blank where tasks fill less than half and none lies whole
    inside."""
    a, dt = columns[0][0], columns[0][1] - columns[0][0]
    covered = [0.0] * len(columns)
    best = [(0.0, -1)] * len(columns)  # (overlap, task index)
    held = [0] * len(columns)  # tasks, merged ones included, that touch the cell
    whole = [False] * len(columns)
    for index, (s, e, count) in enumerate(tasks):
        first, stop = math.floor((s - a) / dt), math.ceil((e - a) / dt)
        for c in range(max(0, first), min(len(columns), stop)):
            lo, hi = columns[c]
            overlap = min(e, hi) - max(s, lo)
            if overlap < 0:
                continue
            covered[c] += overlap
            held[c] += count
            whole[c] = whole[c] or lo <= s <= e <= hi
            if overlap >= best[c][0]:
                best[c] = (overlap, index)
    out = []
    for c, (_, index) in enumerate(best):
        if index < 0 or (covered[c] < dt / 2 and not whole[c]):
            out.append((" ", ""))
        elif held[c] > 2:
            out.append((SEVERAL, styles[0]))
        else:
            out.append((TASK_CHARS[index % 2], styles[index % 2]))
    return out


def gantt(
    timeline: Timeline,
    width: int,
    height: int,
    start: float | None = None,
    end: float | None = None,
    label_width: int = 0,
) -> Text:
    """Workers x time: a row per worker (outer level first), its tasks in alternating
    characters and colours, a gap as space, SEVERAL where a cell holds several tasks or a
    span of merged ones. With more workers than rows, a row is a group of workers shaded by
    how busy the group was. The time axis is the last line."""
    window = _window(timeline, start, end)
    workers = timeline.workers()
    if not workers or window is None:
        return _message("no tasks recorded", width)
    rows = max(1, height - 1)
    groups = row_groups(len(workers), rows)
    if len(groups) == len(workers):
        labels = [_cut(worker, MOST_LABEL) for worker, _ in workers]
    else:
        labels = [f"w{a}-{b - 1}" for a, b in groups]
    label_width = max(label_width, *(len(label) + 1 for label in labels))
    plot = width - label_width
    if plot < 4:
        return _message("too narrow for a task Gantt", width)
    columns = _columns(window, plot)
    spans: dict[tuple[str, int], list[tuple[float, float, int]]] = {key: [] for key in workers}
    for task in sorted(timeline.tasks, key=lambda task: task.start):
        spans[(task.worker, task.level)].append((task.start, task.end, task.count))
    lines = []
    for row, label in enumerate(labels):
        members = workers[slice(*groups[row])]
        if len(groups) == len(workers):
            key = members[0]
            styles = LEVEL_STYLES[min(key[1], len(LEVEL_STYLES) - 1)]
            lines.append(_row(label, label_width, _task_cells(spans[key], columns, styles)))
            continue
        busy = [0.0] * plot
        for key in members:
            for c, (char, _) in enumerate(_task_cells(spans[key], columns, ("", ""))):
                busy[c] += char != " "
        cells = [
            (SHADES[shade_level(100 * n / len(members))], RAMP[shade_level(100 * n / len(members))])
            for n in busy
        ]
        lines.append(_row(label, label_width, cells))
    lines.append(_axis(window, timeline.origin() or window[0], label_width, plot))
    return Text("\n").join(lines)


def _share(value: float | None) -> str:
    return "?" if value is None else f"{value * 100:.0f} %"


def figures_lines(figures: TimelineFigures, runs: int | None = None) -> list[str]:
    """The derived figures as sentences, the diagnosis last, for `cpulab show` and the app;
    `runs`: the measured calls of the result, where the timeline holds fewer (a sweep's
    point keeps its last)."""
    given = figures.cores_given
    if runs is not None and runs > figures.calls:
        calls = f"{figures.calls} of {runs} measured calls"
    else:
        calls = "measured call" if figures.calls == 1 else f"{figures.calls} measured calls"
    lines = [f"{calls}: {figures.wall:.2f} s on {given} core{'s' * (given > 1)} given"]
    if figures.cpu_seconds is not None:
        cpu, efficiency = figures.cpu_seconds, figures.efficiency
        # The run's CPU is read from the core samples; a sample straddling the call's start
        # or end can take a short call past all its cores.
        share, how = _share(efficiency), "from the core samples: CPU seconds / (wall x cores given)"
        if efficiency is not None and efficiency > 1:
            share, how = "100 %", f"{how}; the samples read {efficiency * 100:.0f} %"
        if figures.cpu_rough:
            how += "; rough: the call is short beside the samples' interval"
        lines.append(
            f"CPU: {cpu:.{2 if cpu < 10 else 1}f} core-seconds, efficiency {share} ({how})"
        )
    if figures.workers:
        busy = [w.busy for w in figures.workers]
        low, high = _share(min(busy)), _share(max(busy))
        if low == high:  # all alike: one figure, no worker to name apart
            lines.append(f"workers busy: {low}")
        else:
            each = (
                ": "
                + ", ".join(
                    f"{_cut(w.worker, MOST_LABEL)} {_share(w.busy)}" for w in figures.workers
                )
                if len(figures.workers) <= 4
                else ""
            )
            mean = _share(sum(busy) / len(busy))
            lines.append(f"workers busy: {low} to {high}, mean {mean}{each}")
    if figures.idle_tail is not None:
        lines.append(
            f"idle tail: {figures.idle_tail:.2f} s ({_share(figures.idle_tail_share)}) from the "
            "first worker idle for good to the end"
        )
    if figures.last_wave is not None:
        imbalance = figures.imbalance_share or 0.0
        # Under half a per cent reads "0 %": say how little, and no wave worth a name.
        how_long = f"{_share(imbalance)} of the time, mostly {figures.last_wave}"
        lines.append(
            f"imbalance: some but not all of {figures.workers_given} workers busy for "
            + (how_long if imbalance >= 0.005 else "under 1 % of the time")
        )
    if figures.serial is not None:
        lines.append(
            f"serial: at most 1 core busy for {_share(figures.serial_share)} "
            f"({figures.serial:.2f} s), {figures.serial_at_end or 0:.2f} s of it at the end"
            + (f" ({figures.serial_label})" if figures.serial_label else "")
        )
    if figures.startup is not None:
        lines.append(
            f"start-up: {figures.startup:.2f} s starting workers "
            f"({_share(figures.startup_share)} of the run)"
        )
    if figures.tasks:
        merged = (
            f", {figures.aggregated} of them merged into spans "
            f"(tasks closer than {figures.merge_gap * 1000:g} ms)"
            if figures.aggregated and figures.merge_gap is not None
            else ""
        )
        lines.append(f"tasks: {figures.tasks} in {figures.spans} spans{merged}")
    said = diagnosis(figures)
    if said:
        lines.append(f"diagnosis: {said}")
    return lines
