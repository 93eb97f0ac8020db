"""Fit time, or speedup, against cores used: every finished result on one plotext chart.

The chart survives any data. Its key sits beside or below the plot, never over it, and
says "+N more" where it runs out of room; a series is told apart by its marker as well as
its colour. The core axis turns log2 when the counts span more than a factor of 8, and
counts past the machine's cores sit right of a dotted break, each in a slot of its own, so
that one oversubscribed point cannot squash the rest into the first column.

A sweep's series, where the chart has room and shows at most MODEL_SERIES series, shows
its scaling model (engine/models.py) from 1 core to the machine's: the chosen model's
curve, in dots spaced apart past the counts measured, between two faint lines, its band,
where the runs give intervals. A smaller chart drops the band first, then the model, for
the series' plain fit over the counts measured. The bootstrap behind a model takes tens
of milliseconds: each is fitted once, in a thread, and kept while its series is shown.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from plotext._utility import colors_to_ansi
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import RenderResult
from textual.color import Color, ColorParseError
from textual.geometry import Size
from textual.reactive import reactive
from textual.strip import Strip
from textual.worker import Worker, WorkerState
from textual_plotext import PlotextPlot
from textual_plotext.plot import Figure

from cpulab.engine.events import Result
from cpulab.engine.models import USL, Prediction, ScalingModel, fit_scaling
from cpulab.engine.tasks import CATALOGUE, Task
from cpulab.ui.scaling import Entry, Series, scaling_series
from cpulab.ui.themes import DEFAULT_VARIABLES

SERIES_COLOURS = ("primary", "accent", "success", "warning", "secondary", "error")
# A count of markers prime to the colours' (13 to 6): 78 series go by before a marker and
# colour pair repeats, and 13 before a marker does, which is all that tells series apart
# without colour (NO_COLOR, a monochrome terminal).
SERIES_MARKERS = ("●", "▲", "■", "◆", "▼", "*", "x", "○", "△", "□", "◇", "▽", "▷")
LOG_SPAN = 8  # core counts spanning more than this factor go on a log2 axis
MIN_PLOT_WIDTH, MIN_PLOT_HEIGHT = 24, 8  # what the key leaves the plot, at least
LEGIBLE = 12  # a series' text keeps this much of itself before its fit note goes
TITLED_HEIGHT = 10  # a shorter plot gives its axis titles' row to the data
BREAK = "┊"
PHYSICAL = "╎"  # the physical core count, where SMT threads come after it
# A chart of more series than this has no room for their models: their points and fits only.
MODEL_SERIES = 4
# The least chart size (columns, rows) that shows a model's curve, and its band too; a
# smaller one draws the series' plain fit, over the core counts measured, as it always has.
CURVE_SIZE, BAND_SIZE = (56, 10), (72, 14)
BAND_MARKER = "⠒"  # the key's sample of a band's braille lines
FADED = 0.45  # how much of a series' colour its band keeps, over the surface
MODEL_WORKERS = "scaling-models"

RGB = tuple[int, int, int]
# A series' model points (Series.runs): what its model is fitted to, and known by.
ModelKey = tuple[tuple[int, tuple[float, ...]], ...]


@functools.lru_cache(maxsize=256)
def ansi_style(colours: tuple[object, object, object]) -> Style:
    """The rich style of a plotext cell's (foreground, style, background): what
    Text.from_ansi makes of the codes plotext's build() writes for them."""
    spans = Text.from_ansi(colors_to_ansi(*colours) + " ").spans
    styles = [Style.parse(s) if isinstance(s, str) else s for s in (span.style for span in spans)]
    return Style.combine(styles) if styles else Style()


@dataclass(frozen=True)
class CoreAxis:
    """Core counts to canvas columns (0 to width - 1). The counts within the machine's
    cores spread over the width, linearly or on log2; each count past them has a slot of
    its own right of a break."""

    within: tuple[int, ...]  # ascending
    beyond: tuple[int, ...]  # ascending; past the machine's cores
    log: bool
    width: int  # canvas columns

    @classmethod
    def of(cls, counts: Iterable[int], cores: int | None, width: int) -> CoreAxis:
        ordered = sorted(set(counts))
        beyond = tuple(p for p in ordered if cores is not None and p > cores)
        within = tuple(p for p in ordered if p not in beyond)
        log = bool(within) and within[-1] / within[0] > LOG_SPAN
        return cls(within, beyond, log, max(width, 4))

    @property
    def zone(self) -> int:
        """Columns right of the break: a slot for each count beyond, two fifths at most."""
        if not self.beyond:
            return 0
        if not self.within:
            return self.width - 1
        slot = max(len(str(p)) for p in self.beyond) + 2
        return max(min(len(self.beyond) * slot + 1, self.width * 2 // 5), 2)

    @property
    def last(self) -> int:
        """The column of the highest count within; one column spare on either side."""
        return self.width - 2 - self.zone - (2 if self.zone else 0)

    @property
    def break_column(self) -> int | None:
        return self.width - 1 - self.zone if self.beyond else None

    def _scale(self, cores: float) -> float:
        return math.log2(cores) if self.log else cores

    def column(self, cores: int) -> int:
        if cores in self.beyond:
            assert self.break_column is not None
            step = (self.zone - 1) / len(self.beyond)
            at = self.break_column + 1 + step * (self.beyond.index(cores) + 0.5)
        else:
            low, high = self._scale(self.within[0]), self._scale(self.within[-1])
            if high == low:
                at = (1 + self.last) / 2
            else:
                at = 1 + (self._scale(cores) - low) / (high - low) * (self.last - 1)
        return math.floor(at + 0.5)  # as plotext rounds: ticks and points share columns

    def dense(self) -> list[int]:
        """Core counts within, about one per column: what a curve is drawn through."""
        if not self.within:
            return []
        low, high = self.within[0], self.within[-1]
        steps = max(self.last - 1, 1)
        if self.log:
            found = {round(low * (high / low) ** (i / steps)) for i in range(steps + 1)}
        else:
            found = {round(low + (high - low) * i / steps) for i in range(steps + 1)}
        return sorted(found | set(self.within))

    def ticks(self) -> list[tuple[int, str]]:
        """(column, label) at each count present, left to right, leaving out the labels
        that would collide at this width; the first and the last stay."""
        marks = [(self.column(p), str(p)) for p in (*self.within, *self.beyond)]
        kept = marks[:1]
        for mark in marks[1:-1]:
            if _apart(kept[-1], mark):
                kept.append(mark)
        if len(marks) > 1:
            while len(kept) > 1 and not _apart(kept[-1], marks[-1]):
                kept.pop()
            kept.append(marks[-1])  # where even the first is too near, plotext drops it
        return kept


class ModelCurve:
    """A series' scaling model, and its prediction at each core count worked out once: a
    prediction sorts every bootstrap refit."""

    def __init__(self, model: ScalingModel) -> None:
        self.model = model
        self._predictions: dict[int, Prediction] = {}

    @classmethod
    def fit(cls, key: ModelKey, up_to: int) -> ModelCurve | None:
        """The model of these points (None: fewer than two core counts, or times it cannot
        take), its predictions from 1 to `up_to` cores made ready."""
        try:
            model = fit_scaling(key)
        except ValueError:
            return None
        if model is None:
            return None
        curve = cls(model)
        for cores in range(1, up_to + 1):
            curve.at(cores)
        return curve

    def at(self, cores: int) -> Prediction:
        found = self._predictions.get(cores)
        if found is None:
            found = self._predictions[cores] = self.model.predict(cores)
        return found

    def time_range(self, low: int, high: int) -> tuple[float, float]:
        """The fewest and the most seconds the curve takes from `low` to `high` cores: it
        is convex in p, so the most is at an end."""
        best = self.model.best
        fewest = min(best.time(p) for p in range(low, high + 1))
        return fewest, max(best.time(low), best.time(high))


def key_labels(labels: Sequence[str]) -> list[str]:
    """The series' labels less the words every one of them starts with (the task, where
    all are of one task): the key is narrow, and what tells series apart comes after."""
    if len(labels) < 2:
        return list(labels)
    words = [label.split(" ") for label in labels]
    common = 0
    while all(len(w) > common and w[common] == words[0][common] for w in words):
        common += 1
    # A label that is all common words (a task's lone 1 x 1 point) keeps them.
    return [" ".join(w[common:]).removeprefix("· ") or " ".join(w) for w in words]


def _apart(left: tuple[int, str], right: tuple[int, str]) -> bool:
    # plotext centres a label on its column, shifting it up to its own length to find
    # room: labels whose such windows keep a space between them never meet.
    return right[0] - left[0] >= len(left[1]) + len(right[1])


@dataclass(frozen=True)
class KeyEntry:
    marker: str  # "" for a line of its own, like "+3 more"
    colour: RGB
    text: str
    note: str = ""  # kept when the text is cut short: a series' fit
    muted: bool = False  # drawn in its colour, not the foreground's

    def line(self, width: int | None = None) -> str:
        """The entry in at most `width` columns: a long text loses its end first."""
        head = f"{self.marker} " if self.marker else ""
        tail = f"  {self.note}" if self.note else ""
        full = head + self.text + tail
        if width is None or len(full) <= width:
            return full
        room = width - len(head) - len(tail)
        if room >= min(len(self.text), LEGIBLE):
            return f"{head}{self.text[: room - 1]}…{tail}"
        alone = head + self.text  # no room for the note: the text alone
        return alone if len(alone) <= width else alone[: max(width - 1, 0)] + "…"[:width]

    @property
    def least(self) -> int:
        """The fewest columns that show the whole entry, its text cut to LEGIBLE."""
        return len(self.line()) - max(len(self.text) - LEGIBLE, 0)


@dataclass(frozen=True)
class KeyLayout:
    """Where the key goes (beside or below the plot), its size, and its columns."""

    side: Literal["right", "below"]
    width: int
    height: int
    columns: int
    column_width: int  # an entry's room, without the gap to the next column

    @property
    def capacity(self) -> int:
        return self.height * self.columns

    @staticmethod
    def choose(entries: Sequence[KeyEntry], width: int, height: int) -> KeyLayout:
        """The layout that shows the most entries, then cuts the fewest short, then leaves
        the plot the most room; the plot keeps half the height, or MIN_PLOT_HEIGHT."""
        natural = max(len(e.line()) for e in entries)
        least = max(e.least for e in entries)
        candidates = []
        spare = width - max(MIN_PLOT_WIDTH, width * 9 // 20)
        if spare >= 10:
            across = min(natural + 1, spare)  # a column between the plot and the key
            candidates.append(KeyLayout("right", across, height, 1, across - 1))
        rows = height - max(MIN_PLOT_HEIGHT, height // 2)
        for columns in range(1, 5):
            room = min(natural, width // columns - 2)
            if rows < 1 or (columns > 1 and room < least):
                break
            down = min(math.ceil(len(entries) / columns), rows)
            candidates.append(KeyLayout("below", width, down, columns, room))
        if not candidates:  # too small for either: a narrow key beside, cut short
            across = max(width // 3, 2)
            return KeyLayout("right", across, height, 1, across - 1)

        def merit(layout: KeyLayout) -> tuple[int, int, int]:
            shown = min(layout.capacity, len(entries))
            cut = sum(len(e.line()) > layout.column_width for e in entries[:shown])
            if layout.side == "right":
                return shown, -cut, (width - layout.width) * height
            return shown, -cut, width * (height - layout.height)

        return max(candidates, key=merit)

    def fill(
        self, series: Sequence[KeyEntry], fixed: Sequence[KeyEntry], muted: RGB
    ) -> list[KeyEntry]:
        """What the key shows: every series, or as many as fit and "+N more"; then the
        fixed entries (ideal, break), always."""
        if len(series) + len(fixed) <= self.capacity:
            return [*series, *fixed]
        keep = max(self.capacity - len(fixed) - 1, 0)
        more = KeyEntry("", muted, f"+{len(series) - keep} more", muted=True)
        return [*series[:keep], more, *fixed][: self.capacity]


class ScalingChart(PlotextPlot):
    """Set `results` and `speedup`; the chart redraws, in the colours of the app theme.
    `cores`: how many cores the machine makes available; a point past them is drawn right
    of a break (None: not known, no break). `physical`: the physical cores among them where
    SMT is on, marked by a faint line where the core counts pass it. A sweep's model is
    drawn once its thread has fitted it (a test waits with
    `app.workers.wait_for_complete()`)."""

    results: reactive[tuple[Result | Entry, ...]] = reactive(())
    speedup: reactive[bool] = reactive(False)
    hidden: reactive[int] = reactive(0)  # results hidden from it: said where none is left

    ALLOW_SELECT = False  # drawn line by line, without the offsets that selection reads

    def __init__(
        self,
        tasks: Mapping[str, Task] | None = None,
        *,
        cores: int | None = None,
        physical: int | None = None,
        id: str | None = None,
        classes: str | None = None,
    ):
        super().__init__(id=id, classes=classes)
        self.tasks = CATALOGUE if tasks is None else tasks  # what knobs each task has
        self.cores = cores
        self.physical = physical
        # What the last replot drew, for whoever reads the chart rather than looks at it.
        self.axis: CoreAxis | None = None
        self.key_layout: KeyLayout | None = None
        self.ticks: list[str] = []
        self.key: list[str] = []
        self.models: dict[str, ModelCurve] = {}  # the models drawn, by series label
        # Each shown sweep series' model, once fitted (None: it has none); being fitted.
        self._models: dict[ModelKey, ModelCurve | None] = {}
        self._wanted: set[ModelKey] = set()
        self._fitting: set[ModelKey] = set()
        self._planned: Size | None = None  # the size the figure was last laid out for
        # The figure's lines as drawn, and what they were drawn for (see render_line).
        self._drawn: list[Strip] = []
        self._drawn_for: tuple[object, ...] | None = None
        # Each series' place in the markers and colours, by label: kept while the series
        # is on the chart, so that one added or left out does not restyle the others.
        self._looks: dict[tuple[str, int], int] = {}

    def _place(self, series: list[Series]) -> list[int]:
        """Each series' place in the markers and colours: the one it had if it was on the
        chart last time, else the first no series shown holds."""
        # By label, and which of that label it is: this session's runs and earlier ones of
        # the same curve are two series of one label.
        before: Counter[str] = Counter()
        shown = []
        for line in series:
            shown.append((line.label, before[line.label]))
            before[line.label] += 1
        self._looks = {key: self._looks[key] for key in shown if key in self._looks}
        held = set(self._looks.values())
        for key in shown:
            if key not in self._looks:
                self._looks[key] = place = next(i for i in itertools.count() if i not in held)
                held.add(place)
        return [self._looks[key] for key in shown]

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda theme: self.replot())

    def watch_results(self) -> None:
        self.replot()

    def watch_speedup(self) -> None:
        self.replot()

    def watch_hidden(self) -> None:
        if not self.results:  # said only on an empty chart
            self.replot()

    def on_resize(self) -> None:
        if self.size != self._planned:
            self.replot()

    def render(self) -> RenderResult:
        """The figure as plotext writes it, ANSI text made rich: what tests read. The
        screen draws the same cells straight from plotext's matrix (render_line)."""
        self._plan_for_size()
        return super().render()

    def render_line(self, y: int) -> Strip:
        # Textual turns a rich Text of a few thousand styled cells into lines at some
        # 0.1 ms a line; plotext's own matrix of cells, read row by row with a style per
        # colour pair, draws in half the time, and a chart is drawn at every run's end.
        self._plan_for_size()
        drawn_for = (self.size, self.app.theme, self.theme, self.visual_style)
        if drawn_for != self._drawn_for:
            self._drawn, self._drawn_for = self._draw(), drawn_for
        if y < len(self._drawn):
            return self._drawn[y]
        return Strip.blank(self.size.width, self.visual_style.rich_style)

    def _plan_for_size(self) -> None:
        # Laid out anew since the figure was: its Resize comes after this frame. The figure
        # is planned for the size it is drawn at, so that it is built once, not once at the
        # old size and again at the new one (a table growing beside the chart, at the end
        # of a run).
        if self.size != self._planned:
            self._plan()

    def _draw(self) -> list[Strip]:
        """The figure's lines, top first, from plotext's matrix: the cells that its
        build() would write as ANSI text, with the same styles."""
        # The figure's build steps short of its ANSI text, which textual-plotext's type
        # stubs leave out (plotext is pinned below 6, and a test compares the two ways).
        plt: Any = self.plt
        width, height = self.size
        # What PlotextPlot.render sets before it builds.
        plt.plotsize(width, height)
        plt._set_size(width, height)
        plt.theme(self._get_plotext_theme_name(self.app.theme))
        plt._set_sizes()
        plt._build_matrix()
        matrix = plt.monitor.matrix
        base = self.visual_style.rich_style
        styles: dict[tuple[object, object, object], Style] = {}
        lines = []
        for row in reversed(range(matrix.rows)):  # plotext's row 0 is the bottom
            cells = zip(
                matrix.marker[row],
                matrix.fullground[row],
                matrix.style[row],
                matrix.background[row],
                strict=True,
            )
            segments = []
            for colours, run in itertools.groupby(cells, key=lambda cell: cell[1:]):
                style = styles.get(colours)
                if style is None:
                    style = styles[colours] = base + ansi_style(colours)
                segments.append(Segment("".join(cell[0] for cell in run), style))
            lines.append(Strip(segments).adjust_cell_length(width, base))
        return lines

    def _rgb(self, variable: str) -> RGB:
        # Blend over the chart's background: some theme colours are translucent.
        surface, colour = (self._colour(name) for name in ("surface", variable))
        return (surface + colour).rgb

    def _colour(self, variable: str) -> Color:
        try:
            return Color.parse(self.app.theme_variables[variable])
        except ColorParseError:
            # What the stylesheet reads but plotext cannot be given: "auto", or the ANSI
            # themes' "ansi_default 50%". Textual's own dark theme stands in.
            return Color.parse(DEFAULT_VARIABLES[variable])

    def _modelled(self, series: Sequence[Series]) -> dict[str, ModelCurve]:
        """The models to draw, by series label: of each sweep series of two core counts or
        more, where the series are few enough. Fits the ones not yet known in a thread;
        forgets those of series no longer shown."""
        crowded = len(series) > MODEL_SERIES
        keys = {
            line.label: line.runs
            for line in series
            if not crowded and line.sweep is not None and len(line.runs) >= 2
        }
        self._wanted = set(keys.values())
        self._models = {k: self._models[k] for k in self._wanted if k in self._models}
        missing = [k for k in self._wanted if k not in self._models and k not in self._fitting]
        if missing:
            self._fitting.update(missing)
            up_to = self.cores or max(cores for k in missing for cores, _ in k)
            fits = [(k, up_to) for k in missing]
            self.run_worker(
                lambda: {k: ModelCurve.fit(k, n) for k, n in fits},
                group=MODEL_WORKERS,
                thread=True,
                exit_on_error=False,
            )
        return {
            label: curve
            for label, key in keys.items()
            if (curve := self._models.get(key)) is not None
        }

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != MODEL_WORKERS or event.state != WorkerState.SUCCESS:
            return
        fitted: dict[ModelKey, ModelCurve | None] = event.worker.result or {}
        self._fitting.difference_update(fitted)
        wanted = {key: curve for key, curve in fitted.items() if key in self._wanted}
        self._models.update(wanted)
        if any(curve is not None for curve in wanted.values()):
            self.replot()

    def replot(self) -> None:
        self._plan()
        self.refresh()

    def _plan(self) -> None:
        """Lay the figure out for the chart's size; plotext builds it when it is drawn."""
        plt = self.plt
        plt.clear_figure()
        self._drawn_for = None
        self.axis, self.key_layout, self.ticks, self.key = None, None, [], []
        width, height = self._planned = self.size
        if not width or not height:
            return  # not laid out yet: its first resize draws it
        series = scaling_series(self.results, self.speedup, self.tasks)
        models = self._modelled(series)
        # Too small for a curve, or a band, to read: the band goes first, then the curve.
        curves = width >= CURVE_SIZE[0] and height >= CURVE_SIZE[1]
        bands = curves and width >= BAND_SIZE[0] and height >= BAND_SIZE[1]
        self.models = models if curves else {}
        if not series:
            if self.results:
                plt.title("speedup needs a 1 x 1 run")
            elif self.hidden:
                plt.title(f"{self.hidden} hidden: f shows them again")
            else:
                plt.title("no results yet")
            self._title_axes(plt)
            return
        muted = self._rgb("foreground-muted")
        # A theme may give two of these variables one colour: each colour once, so that
        # no two series share both marker and colour.
        colours = list(dict.fromkeys(self._rgb(name) for name in SERIES_COLOURS))
        labels = key_labels([line.label for line in series])
        entries = [
            KeyEntry(
                SERIES_MARKERS[index % len(SERIES_MARKERS)],
                colours[index % len(colours)],
                label,
                self._fit_note(line, self.models.get(line.label)),
            )
            for index, line, label in zip(self._place(series), series, labels, strict=True)
        ]
        fixed = []
        if bands and any(curve.model.intervals_known for curve in self.models.values()):
            confidence = next(iter(self.models.values())).model.confidence
            fixed.append(KeyEntry(BAND_MARKER, muted, f"{confidence:.0%} band", muted=True))
        if self.speedup or any(line.base_time is not None for line in series):
            fixed.append(KeyEntry("·", muted, "ideal", muted=True))
        if self.cores is not None and any(p > self.cores for s in series for p, _ in s.points):
            over = f"over {self.cores} core{'s' if self.cores != 1 else ''}"
            fixed.append(KeyEntry(BREAK, muted, over, muted=True))
        if self._physical_marked(self._counts(series, self.models)):
            fixed.append(KeyEntry(PHYSICAL, muted, f"{self.physical} physical cores", muted=True))
        layout = self.key_layout = KeyLayout.choose([*entries, *fixed], width, height)
        if layout.side == "right":
            plt.subplots(1, 2)
            plot, key = plt.subplot(1, 1), plt.subplot(1, 2)
            key.plotsize(layout.width, height)
            self._draw_plot(plot, series, entries, width - layout.width, height, muted, bands)
        else:
            plt.subplots(2, 1)
            plot, key = plt.subplot(1, 1), plt.subplot(2, 1)
            key.plotsize(width, layout.height)
            self._draw_plot(plot, series, entries, width, height - layout.height, muted, bands)
        self._draw_key(key, layout, layout.fill(entries, fixed, muted))
        plt.main()  # later calls, the widget's own included, address the whole figure

    def _title_axes(self, plt: Figure) -> None:
        plt.xlabel("cores (train x eval)")
        plt.ylabel("speedup" if self.speedup else "seconds")

    def _fit_note(self, line: Series, curve: ModelCurve | None = None) -> str:
        """The serial fraction of the curve drawn: its model's, or else its fit's."""
        if self.speedup and line.base_time is None:
            return ""
        if curve is not None:
            model = curve.model
            usl = " (USL)" if model.chosen == USL else ""
            return f"fit: serial {model.best.s.value:.0%}{usl}"
        if line.fit is None:
            return ""
        serial = line.fit.serial_fraction
        return f"fit: serial {serial:.0%}" if serial is not None else "fit"

    def _draw_plot(
        self,
        plt: Figure,
        series: Sequence[Series],
        looks: Sequence[KeyEntry],
        width: int,
        height: int,
        muted: RGB,
        bands: bool,
    ) -> None:
        titled = height >= TITLED_HEIGHT
        if titled:
            self._title_axes(plt)
        # Open axes: the frame's top and right lines would cost the data a row and a column.
        plt.xaxes(True, False)
        plt.yaxes(True, False)
        models = self.models
        counts = self._counts(series, models)
        within = [p for p in counts if self.cores is None or p <= self.cores]
        fitted = [line for line in series if line.label not in models and self._fit_note(line)]
        ends = sorted({min(within), max(within)}) if within else []
        # A fit is monotonic in p: its extremes within the axis are at its ends.
        top = max(
            [y for line in series for _, y in line.points]
            + [y for line in fitted for y in line.curve(ends, self.speedup)]
            + [self._model_top(line, models[line.label], ends) for line in series
               if line.label in models]
        )  # fmt: skip
        if self.speedup:
            # Up to twice the best speedup at most: ideal 256x would flatten a real 20x.
            reach = min(max(within, default=1), 2 * max(top, 1.0))
            top = max(top, reach)
        # The y labels are ours, so the canvas width, and where each x label lands, is known.
        ys, top = _y_ticks(top, height - 2 - titled)
        labels = [f"{y:g}" for y in ys]
        axis = CoreAxis.of(counts, self.cores, width - 1 - max(map(len, labels)))
        dense = axis.dense()
        x = axis.column
        if self.speedup:
            ideal = [p for p in dense if p <= reach]
            plt.plot([x(p) for p in ideal], ideal, marker="braille", color=muted)
        else:
            # Perfect scaling from each baseline time: T1 / p.
            for line in series:
                if line.base_time is not None:
                    plt.plot([x(p) for p in dense], line.ideal(dense, False), marker="·",
                             color=muted)  # fmt: skip
        if axis.break_column is not None:
            plt.plot([axis.break_column] * 2, [0, top], marker=BREAK, color=muted)
        if self.physical is not None and self._physical_marked(counts):
            plt.plot([x(self.physical)] * 2, [0, top], marker=PHYSICAL, color=muted)
        for line, look in zip(series, looks, strict=True):
            if line.label in models:
                self._draw_model(plt, line, models[line.label], look.colour, axis, bands)
            elif self._fit_note(line):
                plt.plot([x(p) for p in dense], line.curve(dense, self.speedup), marker="·",
                         color=look.colour)  # fmt: skip
            # Points past the break are not joined: the axis between them is not to scale.
            joined = [(p, y) for p, y in line.points if p not in axis.beyond]
            plt.plot([x(p) for p, _ in joined], [y for _, y in joined], marker="braille",
                     color=look.colour)  # fmt: skip
        for line, look in zip(series, looks, strict=True):  # markers over every line
            plt.scatter([x(p) for p, _ in line.points], [y for _, y in line.points],
                        marker=look.marker, color=look.colour)  # fmt: skip
        ticks = axis.ticks()
        plt.xticks([column for column, _ in ticks], [label for _, label in ticks])
        plt.xlim(0, axis.width - 1)  # one unit to a column: x is the canvas column
        plt.yticks(ys, labels)
        plt.ylim(0, top)
        self.axis, self.ticks = axis, [label for _, label in ticks]

    def _counts(self, series: Sequence[Series], models: Mapping[str, ModelCurve]) -> set[int]:
        """The core counts on the axis: the points', and 1 to the machine's for a model."""
        counts = {p for line in series for p, _ in line.points}
        if models:  # a model spans 1 core to the machine's
            counts |= {1, self.cores or max(counts)}
        return counts

    def _physical_marked(self, counts: set[int]) -> bool:
        """Whether the physical core count is marked: SMT is on and the counts within
        the machine's cores pass it."""
        physical = self.physical
        within = [p for p in counts if self.cores is None or p <= self.cores]
        return physical is not None and bool(within) and min(within) <= physical < max(within)

    def _value(self, line: Series, seconds: float) -> float:
        """Seconds as the chart plots them: as they are, or as speedup over 1 x 1."""
        if not self.speedup:
            return seconds
        assert line.base_time is not None  # a series without one is not in speedup mode
        return line.base_time / seconds if seconds > 0 else math.nan

    def _model_top(self, line: Series, curve: ModelCurve, ends: list[int]) -> float:
        """The highest the model's curve goes over the axis."""
        fewest, most = curve.time_range(ends[0], ends[-1])
        return self._value(line, fewest if self.speedup else most)

    def _draw_model(
        self, plt: Figure, line: Series, curve: ModelCurve, colour: RGB, axis: CoreAxis,
        bands: bool,
    ) -> None:  # fmt: skip
        """The model's curve over the axis: joined dots over the measured core counts,
        dots spaced apart past them; and its band, two faint lines, where it has one."""
        model, x, counts = curve.model, axis.column, axis.dense()
        if bands and model.intervals_known:
            faded = self._colour("surface").blend(Color(*colour), FADED).rgb
            times = [curve.at(p).time for p in counts]
            for end in ([t.low for t in times], [t.high for t in times]):
                plt.plot([x(p) for p in counts], [self._value(line, t) for t in end],
                         marker="braille", color=faded)  # fmt: skip
        first, last = model.measured_cores[0], model.measured_cores[-1]
        measured = [p for p in counts if first <= p <= last]
        plt.plot([x(p) for p in measured],
                 [self._value(line, curve.at(p).time.value) for p in measured],
                 marker="·", color=colour)  # fmt: skip
        taken = {x(p) for p in measured}
        beyond = _spaced([p for p in counts if p not in measured], x, taken)
        if beyond:
            plt.scatter([x(p) for p in beyond],
                        [self._value(line, curve.at(p).time.value) for p in beyond],
                        marker="·", color=colour)  # fmt: skip

    def _draw_key(self, plt: Figure, layout: KeyLayout, shown: Sequence[KeyEntry]) -> None:
        plt.frame(False)
        plt.xaxes(False, False)
        plt.yaxes(False, False)
        plt.xticks([])
        plt.yticks([])
        # One unit to a cell: the key's column c and row r (from the bottom) are x and y.
        plt.xlim(0, max(layout.width - 1, 1))
        plt.ylim(0, max(layout.height - 1, 1))
        foreground = self._rgb("foreground")
        # plotext gives a text the background of the canvas when the text is added, not
        # when it is drawn: the theme's surface, as textual-plotext gives it to the canvas.
        background = self._colour("surface").rgb
        left = 1 if layout.side == "right" else 0  # a column between the plot and the key

        def put(text: str, at: int, row: int, colour: RGB) -> None:
            y = layout.height - 1 - row
            plt.text(text, at, y, color=colour, background=background, alignment="left")

        self.key = []
        for index, entry in enumerate(shown):
            column, row = divmod(index, layout.height)
            at = left + column * (layout.column_width + 2)
            line = entry.line(layout.column_width)
            self.key.append(line)
            if entry.marker:
                put(entry.marker, at, row, entry.colour)
                at, line = at + 2, line[2:]
            put(line, at, row, entry.colour if entry.muted else foreground)


def _spaced(counts: Sequence[int], column: Callable[[int], int], taken: set[int]) -> list[int]:
    """The counts whose columns stand a column clear of each other and of `taken`: the
    dots of a dotted line, read as extrapolated."""
    kept, used = [], set(taken)
    for p in counts:
        at = column(p)
        if not used & {at - 1, at, at + 1}:
            kept.append(p)
            used.add(at)
    return kept


def _y_ticks(top: float, rows: int) -> tuple[list[float], float]:
    """Round ticks from 0 to a little over `top`, a tick every two rows or more; and the
    axis' top."""
    top = top if top > 0 and math.isfinite(top) else 1.0
    span = top * 1.05  # a point at the top stays clear of the axis' end
    raw = span / max(1, min(4, rows // 2))
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [round(i * step, 12) for i in range(math.floor(span / step + 1e-9) + 1)], span
