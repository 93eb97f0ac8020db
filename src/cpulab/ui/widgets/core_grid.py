"""Every core the process may use, drawn as one Line-API widget.

Like btop, the layout follows the space: a bar and a percentage per core where they
fit, else one heat cell per core in labelled rows. Summary lines (core count, average,
minimum, maximum, and who is using the machine) are always drawn first, and if even
heat cells cannot show every core the widget says how many it left out.

Given the machine's topology, with more than one package or NUMA node or with SMT, the
cores are drawn by (package, node, core, thread) under a heading per group (a short label
where rows are few), each core's threads together; where even that does not fit, the
plain layout.

With `history` on, the cores show their last minute instead: a heat strip (cores x time,
a row a group of cores where they outnumber the rows) from the samples the grid is given
anyway, kept in a ring; shaded as the run timeline's heat strip (timeline_view) is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import groupby

from rich.segment import Segment
from rich.style import Style
from textual.dom import DOMNode
from textual.geometry import Region, Size
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from cpulab.engine.events import WorkerLoad
from cpulab.engine.timeline import HALF_PERCENTS, CoreSamples

# The run timeline's heat strip: its shades, its groups of cores and its sampling.
from cpulab.engine.timeline_view import RAMP, SHADES, row_groups, samples_in, shade_level
from cpulab.engine.topology import Topology, cpulist_text
from cpulab.monitor.sampler import DEFAULT_HZ, CoreSample

SUMMARY_LINES = 2
GAP = 2  # between columns of bars
PERCENT_WIDTH = 4  # "100%"
BAR_MIN = 4
BAR_MAX = 30  # wider bars add no information; use the room for more columns instead
GROUP = 8  # heat cells come in groups of eight, a space between groups
HEAT_ROW_SIZES = (8, 16, 32, 64, 128, 256, 512)  # so row labels are round numbers
HEAT_ROW = 64
EIGHTHS = " ▏▎▍▌▋▊▉"
LEVEL_GLYPHS = "▁▂▃▄▅▆▇█"  # heat cells show the level by height too, for NO_COLOR
HISTORY_SECONDS = 60.0  # what the history shows


@dataclass(frozen=True)
class GridLayout:
    bars: bool
    per_row: int  # bars: columns of bars; heat cells: cores in each row
    rows: int
    bar_width: int  # bars only
    shown: int  # cores drawn; below the count only when the space is too small


def _bar_cell(label_width: int, bar: int) -> int:
    return label_width + 1 + bar + 1 + PERCENT_WIDTH


def _heat_row_width(label_width: int, per_row: int) -> int:
    return label_width + 1 + per_row + (per_row - 1) // GROUP


def choose_layout(count: int, label_width: int, width: int, rows_free: int) -> GridLayout:
    """Bars in as few columns as fit the rows, else heat cells, else a truncated grid."""
    if count == 0:  # a cluster's workers before its scheduler first reports them
        return GridLayout(True, 1, 0, 0, 0)
    rows_free = max(rows_free, 1)
    most = min(count, (width + GAP) // (_bar_cell(label_width, BAR_MIN) + GAP))
    fewest = max(1, min(most, (width + GAP) // (_bar_cell(label_width, BAR_MAX) + GAP)))
    for columns in range(fewest, most + 1):
        rows = math.ceil(count / columns)
        if rows <= rows_free:
            span = (width + GAP) // columns - GAP
            bar = min(span - _bar_cell(label_width, 0), BAR_MAX)
            return GridLayout(True, columns, rows, bar, count)
    sizes = {size for size in HEAT_ROW_SIZES if size < count} | {count}
    fitting = sorted(size for size in sizes if _heat_row_width(label_width, size) <= width)
    if not fitting:
        fitting = [max(width - label_width - 1, 1)]
    # Rows of up to HEAT_ROW cores read as a block; longer rows only when height demands.
    for per_row in [size for size in fitting if size >= min(count, HEAT_ROW)] or fitting[-1:]:
        rows = math.ceil(count / per_row)
        if rows <= rows_free:
            return GridLayout(False, per_row, rows, 0, count)
    per_row = fitting[-1]
    return GridLayout(False, per_row, rows_free, 0, min(count, rows_free * per_row))


@dataclass(frozen=True)
class CoreGroup:
    """The cores of one package and NUMA node: each physical core its threads, as
    positions in the grid's cpus."""

    heading: str  # "package 0 · node 1: cpus 32-63"
    shape: str  # "16 cores x 2 threads": after the heading where the width allows
    short: str  # "p0·n1": a row's label where there is no room for headings
    units: tuple[tuple[int, ...], ...]


def core_groups(cpus: tuple[int, ...], topology: Topology | None) -> tuple[CoreGroup, ...]:
    """The cores grouped by (package, node, core, thread); empty where grouping tells
    nothing: no topology, a CPU it does not know, or one package and node without SMT."""
    if topology is None or not cpus:
        return ()
    place_of = {place.cpu: place for place in topology.places}
    if any(cpu not in place_of for cpu in cpus):
        return ()
    position = {cpu: index for index, cpu in enumerate(cpus)}
    units = []
    for siblings in topology.siblings:
        threads = tuple(position[cpu] for cpu in siblings if cpu in position)
        if threads:
            place = place_of[cpus[threads[0]]]
            units.append(((place.package, place.node, place.die, place.core), threads))
    units.sort()
    keys = sorted({key[:2] for key, _ in units})
    packages, nodes = {p for p, _ in keys}, {n for _, n in keys}
    smt = topology.smt_known and any(len(threads) > 1 for _, threads in units)
    if len(keys) == 1 and not smt:
        return ()
    groups = []
    for (package, node), members in groupby(units, key=lambda unit: unit[0][:2]):
        cores = tuple(threads for _, threads in members)
        names = [(f"package {package}", f"p{package}")] * (len(packages) > 1)
        names += [(f"node {node}", f"n{node}")] * (len(nodes) > 1)
        shown = cpulist_text([cpus[i] for unit in cores for i in unit])
        per_core = {len(unit) for unit in cores}
        shape = f"{len(cores)} cores"
        if smt and len(per_core) == 1:
            shape += f" x {per_core.pop()} threads"
        elif smt:
            shape += f", {sum(map(len, cores))} threads"
        where = " · ".join(name for name, _ in names)
        heading = f"{where}: cpus {shown}" if where else f"cpus {shown}"
        groups.append(CoreGroup(heading, shape, "·".join(short for _, short in names), cores))
    return tuple(groups)


@dataclass(frozen=True)
class GroupedLayout:
    """Cores by group: a heading line per group (or a short label on its first row),
    each physical core's threads together: stacked in one column of bars, or side by
    side in a row of heat cells."""

    bars: bool
    per_row: int  # bars: columns of cores; heat cells: cores in each row
    rows: int  # lines in all, headings included
    bar_width: int  # bars only
    headings: bool
    core_gaps: bool  # heat cells: a space between cores, else every GROUP cells


def _group_rows(groups: tuple[CoreGroup, ...], per_row: int) -> int:
    return sum(math.ceil(len(group.units) / per_row) for group in groups)


def choose_grouped_layout(
    groups: tuple[CoreGroup, ...], label_width: int, width: int, rows_free: int
) -> GroupedLayout | None:
    """Bars where they fit under full headings, else heat cells under headings or
    short labels; None where the groups do not fit: the plain layout then."""
    threads = max(len(unit) for group in groups for unit in group.units)
    mark = 1 if threads > 1 else 0  # the column of the sibling bracket
    most_units = max(len(group.units) for group in groups)
    cell = mark + label_width + 1
    most = min(most_units, (width + GAP) // (_bar_cell(cell - 1, BAR_MIN) + GAP))
    fewest = max(1, min(most, (width + GAP) // (_bar_cell(cell - 1, BAR_MAX) + GAP)))
    for columns in range(fewest, most + 1):
        rows = len(groups) + _group_rows(groups, columns) * threads
        if rows <= rows_free:
            span = (width + GAP) // columns - GAP
            bar = min(span - _bar_cell(cell - 1, 0), BAR_MAX)
            return GroupedLayout(True, columns, rows, bar, True, False)
    short = max(len(group.short) for group in groups)
    for per_row in sorted({math.ceil(most_units / parts) for parts in (1, 2, 4, 8)}, reverse=True):
        cells = per_row * threads
        for core_gaps in (True, False):
            gaps = per_row - 1 if core_gaps else (cells - 1) // GROUP
            body = _group_rows(groups, per_row)
            if label_width + 1 + cells + gaps <= width and body + len(groups) <= rows_free:
                return GroupedLayout(False, per_row, body + len(groups), 0, True, core_gaps)
            if short and short + 1 + cells + gaps <= width and body <= rows_free:
                return GroupedLayout(False, per_row, body, 0, False, core_gaps)
    return None


class CoreHistory:
    """The last `seconds` of samples of `count` cores, in a ring of half-percents: each
    sample costs O(cores), and the oldest makes room for the newest.

    Time is counted in samples (sample i at i / sample_hz), not read from a clock: the
    samples come at that rate, and a drawing of them is the same at every run."""

    def __init__(self, cpus: tuple[int, ...], sample_hz: float, seconds: float) -> None:
        self.cpus = cpus
        self.interval = 1 / sample_hz
        self.seconds = seconds
        self.capacity = max(1, math.ceil(seconds * sample_hz))
        self._ring = bytearray(self.capacity * len(cpus))
        self.count = 0  # samples added, ever

    def add(self, percents: tuple[float, ...]) -> None:
        n = len(self.cpus)
        if len(percents) != n:
            return  # not a reading of these cores
        slot = (self.count % self.capacity) * n
        self._ring[slot : slot + n] = bytes(
            min(100 * HALF_PERCENTS, max(0, round(p * HALF_PERCENTS))) for p in percents
        )
        self.count += 1

    @property
    def end(self) -> float:
        return self.count * self.interval

    def snapshot(self) -> CoreSamples | None:
        """The samples kept, oldest first; None before the first."""
        if not self.count or not self.cpus:
            return None
        kept = min(self.count, self.capacity)
        if self.count <= self.capacity:
            values = bytes(self._ring[: kept * len(self.cpus)])
        else:
            head = (self.count % self.capacity) * len(self.cpus)
            values = bytes(self._ring[head:] + self._ring[:head])
        return CoreSamples((self.count - kept) * self.interval, self.interval, self.cpus, values)


class CoreGrid(Widget):
    """Per-core utilisation of `cpus`; set `sample` to redraw."""

    COMPONENT_CLASSES = {
        "core-grid--label",
        "core-grid--low",
        "core-grid--mid",
        "core-grid--high",
        "core-grid--track",
        "core-grid--quiet",
        "core-grid--noisy",
    }

    DEFAULT_CSS = """
    CoreGrid {
        height: auto;
        & > .core-grid--label { color: $text-muted; }
        & > .core-grid--low { color: $success; }
        & > .core-grid--mid { color: $warning; }
        & > .core-grid--high { color: $error; }
        & > .core-grid--track { color: $foreground 25%; }
        & > .core-grid--quiet { color: $success; }
        & > .core-grid--noisy { color: $warning; text-style: bold; }
    }
    """

    # Not repainted by the reactive itself: watch_sample repaints only what changed. Each
    # sample is watched, an equal one too: it is another moment of the history.
    sample: reactive[CoreSample | None] = reactive(None, repaint=False, always_update=True)
    # Each core's last minute as a heat strip, instead of its bar.
    history: reactive[bool] = reactive(False, init=False)

    unit = "cores"  # what each bar is

    def __init__(
        self,
        cpus: tuple[int, ...],
        *,
        sample_hz: float = DEFAULT_HZ,
        topology: Topology | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """`topology`: where the cpus sit; with more than one package or node, or SMT,
        the cores are drawn by group, siblings together, where there is room."""
        super().__init__(id=id, classes=classes)
        self.cpus = cpus
        self.groups = core_groups(cpus, topology)
        self.labels = tuple(map(str, cpus))
        self.label_width = max(map(len, self.labels), default=1)
        self._strips: list[Strip] = []
        self._drawn: tuple[Size, CoreSample | None, bool] | None = None  # what _strips show
        self._missed = False  # a sample came while the grid was hidden
        self._styles: dict[str, Style] = {}  # component styles over the widget's, per theme
        self._history = CoreHistory(cpus, sample_hz, HISTORY_SECONDS) if cpus else None

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        # Up to a third of the space, leaving the rest to the results: bars when they
        # fit there, heat cells otherwise.
        rows_free = container.height // 3 - SUMMARY_LINES
        if self.history and self._history is not None:  # a row a core, or a group, and an axis
            return SUMMARY_LINES + min(len(self.cpus), max(1, rows_free - 1)) + 1
        if self.groups:
            grouped = choose_grouped_layout(self.groups, self.label_width, width, rows_free)
            if grouped is not None:
                return SUMMARY_LINES + grouped.rows
        layout = choose_layout(len(self.cpus), self.label_width, width, rows_free)
        return SUMMARY_LINES + layout.rows + (layout.shown < len(self.cpus))

    def watch_history(self) -> None:
        self._drawn = None
        self.refresh(layout=True)

    def watch_sample(self, previous: CoreSample | None, sample: CoreSample | None) -> None:
        if self._history is not None and sample is not None:
            self._history.add(sample.percents)
        if previous == sample and not self.history:
            return  # the same reading: the same bars
        if not self._laid_out():
            # Repainted once shown (on_show). Not now: asking a hidden widget its size, or
            # repainting it, has Textual arrange the whole screen anew, several times a
            # second in the app's smaller views.
            self._missed = True
            return
        # Repaint only the lines that look different. A repaint renders every widget under
        # the region, and with every core busy most samples draw the same bars.
        drawn = self._drawn
        if drawn is None or drawn[0] != self.size or not self._strips:
            self.refresh()
            return
        before, self._strips = self._strips, self._build()
        self._drawn = (self.size, self.sample, self.history)
        pairs = enumerate(zip(before, self._strips, strict=True))
        changed = [y for y, (old, new) in pairs if old != new]
        if changed:
            top = changed[0]
            self.refresh(Region(0, top, self.size.width, changed[-1] - top + 1))

    def on_show(self) -> None:
        # A panel above it shown again at the same size: Textual keeps the lines it drew.
        if self._missed:
            self._missed = False
            self.refresh()

    def _laid_out(self) -> bool:
        """Whether the grid is on the screen's layout: neither it nor a panel above it has
        display: none."""
        node: DOMNode | None = self
        while isinstance(node, Widget):
            if not node.display:
                return False
            node = node.parent
        return True

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._drawn = None  # the theme changed: colours must be looked up again
        self._styles = {}

    def render_line(self, y: int) -> Strip:
        if self._drawn != (self.size, self.sample, self.history):
            self._strips = self._build()
            self._drawn = (self.size, self.sample, self.history)
        return self._strips[y] if y < len(self._strips) else Strip.blank(self.size.width)

    def _build(self) -> list[Strip]:
        width, height = self.size
        if self.history and self._history is not None:
            lines = self._summary() + self._history_rows(width, height - SUMMARY_LINES)
            lines += [[]] * (height - len(lines))
            return [Strip(line).crop(0, width) for line in lines[:height]]
        count = len(self.cpus)
        percents = self.sample.percents if self.sample else (0.0,) * count
        if self.groups:
            grouped = choose_grouped_layout(
                self.groups, self.label_width, width, height - SUMMARY_LINES
            )
            if grouped is not None:
                lines = self._summary() + self._grouped_rows(grouped, percents)
                lines += [[]] * (height - len(lines))
                return [Strip(line).crop(0, width) for line in lines[:height]]
        layout = choose_layout(count, self.label_width, width, height - SUMMARY_LINES)
        if layout.shown < count:
            layout = choose_layout(count, self.label_width, width, height - SUMMARY_LINES - 1)
        lines = self._summary()
        if layout.bars:
            lines += self._bar_rows(layout, percents)
        else:
            lines += self._heat_rows(layout, percents)
        if layout.shown < count:
            note = f"{count - layout.shown} more {self.unit} not shown: enlarge the window"
            lines.append([Segment(note, self._style("noisy"))])
        lines += [[]] * (height - len(lines))
        return [Strip(line).crop(0, width) for line in lines[:height]]

    def _style(self, name: str) -> Style:
        """A component's style over the widget's own, looked up once per theme: the grid
        is rebuilt at every sample, with several segments per core."""
        if not self._styles:
            base = self.rich_style
            self._styles[""] = base
            for component in self.COMPONENT_CLASSES:
                self._styles[component.removeprefix("core-grid--")] = (
                    base + self.get_component_rich_style(component)
                )
        return self._styles[name]

    def _level(self, percent: float) -> Style:
        return self._style("low" if percent < 40 else "mid" if percent < 75 else "high")

    def _summary(self) -> list[list[Segment]]:
        first = self._levels()
        sample = self.sample
        if sample is None:
            return [first, []]
        label, plain = self._style("label"), self._style("")
        verdict = "quiet" if sample.quiet else "busy"  # short: it must fit 80 columns
        second = [
            Segment("experiment ", label),
            Segment(f"{sample.tree_cores:.1f}", plain),
            Segment("  other ", label),
            Segment(f"{sample.other_cores:.1f}", plain),
            Segment(" cores  ", label),
            Segment(verdict, self._style("quiet" if sample.quiet else "noisy")),
        ]
        return [first, second]

    def _levels(self) -> list[Segment]:
        """The first summary line: how many, then the average, least and most busy."""
        label, plain = self._style("label"), self._style("")
        first = [Segment(f"{len(self.cpus)} {self.unit}", label)]
        sample = self.sample
        if sample is None:
            return [*first, Segment("  sampling…", plain)]
        for name, value in (("avg", sample.avg), ("min", sample.min), ("max", sample.max)):
            first += [Segment(f"  {name} ", label), Segment(f"{value:.0f}%", self._level(value))]
        for name, share in (("steal", sample.steal), ("iowait", sample.iowait)):
            if share is not None and share >= 0.5:
                first += [Segment(f"  {name} ", label), Segment(f"{share:.0f}%", plain)]
        return first

    def _bar_rows(self, layout: GridLayout, percents) -> list[list[Segment]]:
        label, track, plain = self._style("label"), self._style("track"), self._style("")
        rows: list[list[Segment]] = []
        for row in range(layout.rows):
            line: list[Segment] = []
            # Column-major, as btop does: core ids run down each column.
            for index in range(row, len(self.cpus), layout.rows):
                if line:  # the gap joins the percentage before it: one segment fewer
                    line[-1] = Segment(line[-1].text + " " * GAP, plain)
                percent = percents[index]
                full, part = divmod(round(percent / 100 * layout.bar_width * 8), 8)
                fill = "█" * full + (EIGHTHS[part] if part else "")
                line += [
                    Segment(f"{self.labels[index]:>{self.label_width}} ", label),
                    Segment(fill, self._level(percent)),
                    Segment("·" * (layout.bar_width - len(fill)), track),
                    Segment(f" {percent:>3.0f}%", plain),
                ]
            rows.append(line)
        return rows

    def _grouped_rows(self, layout: GroupedLayout, percents) -> list[list[Segment]]:
        """Each group under its heading (or its short label on its first row): bars with
        a core's threads stacked in one column and bracketed, or heat cells with a core's
        threads side by side."""
        label, plain = self._style("label"), self._style("")
        threads = max(len(unit) for group in self.groups for unit in group.units)
        short = max(len(group.short) for group in self.groups)
        rows: list[list[Segment]] = []
        for group in self.groups:
            units = group.units
            if layout.headings:
                heading = f"{group.heading}, {group.shape}"
                fits = len(heading) <= self.size.width
                rows.append([Segment(heading if fits else group.heading, label)])
            if layout.bars:
                down = math.ceil(len(units) / layout.per_row)
                for row in range(down):
                    columns = units[row::down]  # column-major, as the plain bars
                    for thread in range(threads):
                        rows.append(self._sibling_bars(layout, columns, thread, threads, percents))
                continue
            for number, start in enumerate(range(0, len(units), layout.per_row)):
                cores = units[start : start + layout.per_row]
                if layout.headings:
                    name = f"{self.labels[cores[0][0]]:>{self.label_width}} "
                else:
                    name = f"{group.short if number == 0 else '':<{short}} "
                line = [Segment(name, label)]
                cells = 0
                for core, unit in enumerate(cores):
                    for position in (*unit, *(None,) * (threads - len(unit))):
                        gap = (
                            core > 0 and unit[0] == position
                            if layout.core_gaps
                            else (cells > 0 and cells % GROUP == 0)
                        )
                        if gap:
                            line.append(Segment(" ", plain))
                        cells += 1
                        if position is None:
                            line.append(Segment(" ", plain))
                            continue
                        percent = percents[position]
                        glyph = LEVEL_GLYPHS[min(int(percent / 100 * len(LEVEL_GLYPHS)), 7)]
                        line.append(Segment(glyph, self._level(percent)))
                rows.append(line)
        return rows

    def _sibling_bars(
        self,
        layout: GroupedLayout,
        columns: tuple[tuple[int, ...], ...],
        thread: int,
        threads: int,
        percents,
    ) -> list[Segment]:
        """One line of bars: the `thread`-th thread of each core in `columns`, with the
        bracket that joins a core's threads (none without SMT)."""
        label, track, plain = self._style("label"), self._style("track"), self._style("")
        mark = "" if threads == 1 else "┌" if thread == 0 else "└" if thread == threads - 1 else "├"
        cell = len(mark) + self.label_width + 1 + layout.bar_width + 1 + PERCENT_WIDTH
        line: list[Segment] = []
        for unit in columns:
            if line:
                line[-1] = Segment(line[-1].text + " " * GAP, plain)
            if thread >= len(unit):
                line.append(Segment(" " * cell, plain))
                continue
            index = unit[thread]
            percent = percents[index]
            full, part = divmod(round(percent / 100 * layout.bar_width * 8), 8)
            fill = "█" * full + (EIGHTHS[part] if part else "")
            line += [
                Segment(f"{mark if len(unit) > 1 else ' ' * len(mark)}", track),
                Segment(f"{self.labels[index]:>{self.label_width}} ", label),
                Segment(fill, self._level(percent)),
                Segment("·" * (layout.bar_width - len(fill)), track),
                Segment(f" {percent:>3.0f}%", plain),
            ]
        return line

    def _history_rows(self, width: int, height: int) -> list[list[Segment]]:
        """The last minute as a heat strip: a row a core, or a group of cores where they
        outnumber the rows, shaded as the run timeline's heat strip is, the time axis
        counting back from now. Cells are drawn as runs of one shade, not through Rich
        text: the strip is drawn again at every sample."""
        history = self._history
        assert history is not None
        label = self._style("label")
        samples = history.snapshot()
        if samples is None or height < 2:
            return [[Segment("collecting samples…", label)]]
        groups = row_groups(len(self.cpus), height - 1)
        names = [
            self.labels[a] if b - a == 1 else f"{self.labels[a]}-{self.labels[b - 1]}"
            for a, b in groups
        ]
        label_width = max(map(len, names)) + 1
        plot = width - label_width
        if plot < 4:
            return [[Segment("too narrow for the last minute", label)]]
        start, step = history.end - history.seconds, history.seconds / plot
        windows = [(start + c * step, start + (c + 1) * step) for c in range(plot)]
        shown = [samples_in(samples, window) for window in windows]
        columns = [(kept.start, kept.stop, len(kept)) for kept in shown]
        values, count = samples.values, len(self.cpus)
        lines = []
        for (first, stop), name in zip(groups, names, strict=True):
            # Each sample's mean over the group once, then each column's mean of those.
            scale = 1 / (HALF_PERCENTS * (stop - first))
            means = [
                sum(values[base + first : base + stop]) * scale
                for base in range(0, len(values), count)
            ]
            levels = [shade_level(sum(means[a:b]) / n) if n else 0 for a, b, n in columns]
            line = [Segment(name.ljust(label_width), label)]
            for level, run in groupby(levels):
                line.append(Segment(SHADES[level] * len(list(run)), self._shade_style(level)))
            lines.append(line)
        ago = f"-{history.seconds:.0f}s"
        axis = ago + ("now".rjust(plot - len(ago)) if plot > len(ago) + 3 else "")
        lines.append([Segment(" " * label_width + axis, label)])
        return lines

    def _shade_style(self, level: int) -> Style:
        """A heat strip's shade over the widget's style, looked up once per theme."""
        base = self._style("")  # first: it fills the look-up table when empty
        key = f"shade-{level}"
        if key not in self._styles:
            self._styles[key] = base + Style(color=RAMP[level] or None)
        return self._styles[key]

    def _heat_rows(self, layout: GridLayout, percents) -> list[list[Segment]]:
        label = self._style("label")
        rows: list[list[Segment]] = []
        for row in range(layout.rows):
            start = row * layout.per_row
            stop = min(start + layout.per_row, layout.shown)
            line = [Segment(f"{self.labels[start]:>{self.label_width}} ", label)]
            for index in range(start, stop):
                if index > start and (index - start) % GROUP == 0:
                    line.append(Segment(" ", self._style("")))
                percent = percents[index]
                glyph = LEVEL_GLYPHS[min(int(percent / 100 * len(LEVEL_GLYPHS)), 7)]
                line.append(Segment(glyph, self._level(percent)))
            rows.append(line)
        return rows


class WorkerGrid(CoreGrid):
    """Each Dask worker's CPU as its scheduler reports it, in the core grid's layout: on a
    cluster the local cores say little about the run. Call `show` with each WorkerLoad."""

    unit = "workers"

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__((), id=id, classes=classes)
        self.threads = 0

    def show(self, load: WorkerLoad) -> None:
        workers = load.workers
        if len(workers) != len(self.cpus):
            self.cpus = tuple(range(len(workers)))
            self.labels = tuple(f"w{index}" for index in self.cpus)
            self.label_width = max(map(len, self.labels), default=1)
            self.refresh(layout=True)
        # A worker's CPU is in percent of one core; its bar shows it against its threads.
        threads = [max(w["threads"], 1) for w in workers]
        self.threads = sum(threads)
        self.sample = CoreSample(
            cpus=self.cpus,
            percents=tuple(min(w["cpu"] / n, 100.0) for w, n in zip(workers, threads, strict=True)),
            tree_cores=sum(w["cpu"] for w in workers) / 100,
        )

    def _summary(self) -> list[list[Segment]]:
        label, plain = self._style("label"), self._style("")
        second = [Segment("from the scheduler", label)]
        if self.sample is not None:
            second = [
                Segment("cluster ", label),
                Segment(f"{self.sample.tree_cores:.1f}", plain),
                Segment(f" of {self.threads} threads busy, as its scheduler reports", label),
            ]
        return [self._levels(), second]
