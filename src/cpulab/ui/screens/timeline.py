"""The timeline of one result: how busy each core was (a heat strip), which worker ran
which task (a Gantt), both over the same time axis, and the figures derived from them.

Drawn by `cpulab.engine.timeline_view`, the views `cpulab show` prints, into Statics
sized to the space there is: recomputed when the terminal is resized or the window of
time changes, never on a timer. Where both views do not fit (80 x 24 with many cores or
workers), one is shown at a time and v switches. + and - zoom around the middle of the
window, the arrows pan, 0 shows the whole run again.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Static

from cpulab.engine.events import Result
from cpulab.engine.presentation import task_label
from cpulab.engine.timeline import (
    Timeline,
    TimelineError,
    TimelineFigures,
    Window,
    cores_given,
    diagnosis,
    figures,
    why_no_timeline,
)
from cpulab.engine.timeline_view import (
    LEAST_SECONDS,
    MOST_LABEL,
    figures_lines,
    gantt,
    heat_strip,
)

NO_CALL = "no measured call recorded: no figures"
HEAT_HEADING = "Cores busy: ░ 5-25 %  ▒ 25-50 %  ▓ 50-75 %  █ 75-100 %"
GANTT_HEADING = "Tasks by worker: █▓ a task each, ▒ several"
# A view shown beside the other gets at least this many rows (heading, plot rows, axis).
HEAT_LEAST = 6
GANTT_LEAST = 5
FIGURES_LEAST = 3  # rows of figures kept under the plots, the diagnosis first
KEYS = "+/- zoom · ←/→ pan · 0 all · Esc close"
SWITCH_KEY = "v cores/tasks · "
ZOOM = 2.0  # each + halves the window, each - doubles it
PAN = 0.25  # of the window, per arrow
# The narrowest window: a thousandth of the run, and never under a millisecond.
NARROWEST = 1 / 1000


def timeline_of(result: Result) -> Timeline | None:
    """The result's timeline; None where it was measured before timelines were recorded.
    TimelineError where the stored one cannot be read."""
    return Timeline.from_dict(result.timeline)


def figures_of(result: Result, timeline: Timeline) -> TimelineFigures | None:
    """The figures over the cores the run could use, as `cpulab show` gives them; None
    where no measured call was recorded: they are taken over it."""
    if not timeline.measured():
        return None
    return figures(timeline, cores_given(result))


def timeline_rows(result: Result) -> list[tuple[str, str]]:
    """What the result details say of its timeline: the diagnosis, and the key to see it."""
    try:
        timeline = timeline_of(result)
    except TimelineError as exc:
        return [("timeline", f"cannot be read: {exc}")]
    if timeline is None:
        return [("timeline", f"none: {why_no_timeline(result.partial)}")]
    found = figures_of(result, timeline)
    said = diagnosis(found) if found is not None else None
    return [
        ("timeline", "l shows the cores and the tasks over time"),
        ("diagnosis", said or "no one cause dominates"),
    ]


def seconds_text(value: float, span: float) -> str:
    """Seconds with as many decimals as a window of `span` seconds needs: at least 20
    steps of the last decimal across it (down to the narrowest window, 1 ms)."""
    decimals = 0
    while span < 20 / 10**decimals and decimals < 5:
        decimals += 1
    return f"{value:.{decimals}f} s"


@dataclass(frozen=True)
class Plan:
    """Rows of each part of the view: 0 where a part is not shown."""

    heat: int
    gantt: int
    figures: int


def plan_rows(
    height: int, heat_wanted: int, gantt_wanted: int, figure_rows: int, showing: str
) -> tuple[Plan, bool]:
    """Rows for the heat strip, the Gantt and the figures in `height` rows, and whether
    both views are shown. Each view wants its heading, its rows and its axis; where both
    fit at their least above a few rows of figures, both are shown, sharing the rows in
    proportion to what each wants; else only `showing`. The figures get what is left."""
    figures_least = min(figure_rows, FIGURES_LEAST)
    heat_least, gantt_least = min(heat_wanted, HEAT_LEAST), min(gantt_wanted, GANTT_LEAST)
    room = height - figures_least
    if room >= heat_least + gantt_least:
        plots = min(room, heat_wanted + gantt_wanted)
        share = plots * heat_wanted // (heat_wanted + gantt_wanted)
        heat = min(heat_wanted, max(heat_least, share), plots - gantt_least)
        gantt_rows = min(gantt_wanted, plots - heat)
        heat = min(heat_wanted, plots - gantt_rows)  # what the Gantt leaves over
        return Plan(heat, gantt_rows, min(figure_rows, height - heat - gantt_rows)), True
    wanted = heat_wanted if showing == "heat" else gantt_wanted
    rows = max(0, min(wanted, max(room, min(height, 2))))
    rest = min(figure_rows, max(0, height - rows))
    if showing == "heat":
        return Plan(rows, 0, rest), False
    return Plan(0, rows, rest), False


def figures_window(rows: list[str], room: int, top: int) -> tuple[list[str], int, int]:
    """The figure lines shown in `room` rows from line `top` on, `top` kept in range, and
    the last line it can be. Where they do not all fit, the last row says which lines are
    shown and how to see the others."""
    if len(rows) <= room:
        return rows, 0, 0
    if room <= 1:
        return [f"… {len(rows)} lines of figures: a taller window shows them"][:room], 0, 0
    lines = room - 1
    last = len(rows) - lines
    top = min(top, last)
    hint = f"… lines {top + 1}-{top + lines} of {len(rows)}: ↑/↓ show the others"
    return [*rows[top : top + lines], hint], top, last


class TimelineView(Vertical):
    """The window line, the two views and the figures, drawn for the size it is given."""

    DEFAULT_CSS = """
    TimelineView {
        & > Static { height: auto; width: 100%; }
        & > #window { color: $text-muted; }
    }
    """

    def __init__(
        self, timeline: Timeline, figures: TimelineFigures | None, runs: int | None = None
    ) -> None:
        super().__init__()
        self.timeline = timeline
        self.extent: Window | None = timeline.extent()
        self.window: Window | None = None  # None: the whole extent
        self.showing = "heat"  # the view shown where only one fits
        self.both = True
        # The diagnosis first: where the rows run short, it is what they keep.
        lines = figures_lines(figures, runs) if figures is not None else [NO_CALL]
        said = [line for line in lines if line.startswith("diagnosis:")]
        self.figure_lines = said + [line for line in lines if not line.startswith("diagnosis:")]
        self.figures_top = 0  # the first figure line shown, where they do not all fit
        self._figures_last_top = 0  # the last it can be at the size last drawn
        self._drawn: tuple | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="window")
        yield Static(id="heat")
        yield Static(id="gantt")
        yield Static(id="figures")

    def on_resize(self, event: events.Resize) -> None:
        self.draw()

    # The window of time.

    @property
    def shown(self) -> Window | None:
        return self.window or self.extent

    def zoom(self, factor: float) -> None:
        shown, extent = self.shown, self.extent
        if shown is None or extent is None:
            return
        middle, span = (shown[0] + shown[1]) / 2, (shown[1] - shown[0]) * factor
        whole = extent[1] - extent[0]
        span = max(span, whole * NARROWEST, LEAST_SECONDS)
        if span >= whole:
            self.window = None
        else:
            self.window = self._within(middle - span / 2, span)
        self.draw()

    def pan(self, direction: int) -> None:
        shown = self.shown
        if self.window is None or shown is None:
            return  # the whole run is on view: nowhere to go
        span = shown[1] - shown[0]
        self.window = self._within(shown[0] + direction * PAN * span, span)
        self.draw()

    def reset(self) -> None:
        self.window = None
        self.draw()

    def switch(self) -> None:
        self.showing = "gantt" if self.showing == "heat" else "heat"
        self.draw()

    def scroll_figures(self, lines: int) -> None:
        self.figures_top = min(max(0, self.figures_top + lines), self._figures_last_top)
        self.draw()

    def _within(self, start: float, span: float) -> Window:
        assert self.extent is not None
        low, high = self.extent
        start = min(max(start, low), high - span)
        return start, start + span

    # Drawing.

    def window_text(self) -> str:
        """ "0.8 s - 2.4 s of 6.1 s": the window from the run's start, and its length."""
        shown, extent = self.shown, self.extent
        origin = self.timeline.origin()
        if shown is None or extent is None or origin is None:
            return "nothing recorded over time"
        span = shown[1] - shown[0]
        text = (
            f"{seconds_text(shown[0] - origin, span)} - {seconds_text(shown[1] - origin, span)}"
            f" of {seconds_text(extent[1] - origin, span)}"
        )
        return text + (" (all)" if self.window is None else "")

    def _label_width(self) -> int:
        """One label width for both views, so that their columns line up."""
        widths = [0]
        cores = self.timeline.cores
        if cores is not None and cores.samples:
            widths.append(2 * len(str(max(cores.cores))) + 2)  # "120-127 "
            widths += [6] if self.timeline.phases else []  # "phase "
        workers = self.timeline.workers()
        if workers:
            widths.append(min(MOST_LABEL, max(len(worker) for worker, _ in workers)) + 1)
        return max(widths)

    def _heat_wanted(self) -> int:
        cores = self.timeline.cores
        if cores is None or not cores.samples:
            return 2  # the heading and a line saying so
        extras = bool(self.timeline.phases) + bool(cores.own)
        return 1 + extras + len(cores.cores) + 1

    def _gantt_wanted(self) -> int:
        workers = self.timeline.workers()
        return 1 + len(workers) + 1 if workers else 2

    def _figure_rows(self, width: int) -> list[str]:
        """The figures' lines wrapped to `width`, as the Static will show them."""
        rows: list[str] = []
        for line in self.figure_lines:
            text = Text(line)
            rows += [str(part) for part in text.wrap(self.app.console, width)] if line else [""]
        return rows

    def draw(self) -> None:
        width, height = self.size
        if width <= 0 or height <= 0:
            return
        state = (width, height, self.window, self.showing, self.figures_top)
        if state == self._drawn:
            return
        self._drawn = state
        figure_rows = self._figure_rows(width)
        plan, self.both = plan_rows(
            height - 1, self._heat_wanted(), self._gantt_wanted(), len(figure_rows), self.showing
        )
        window = self.shown
        start, end = window if window is not None else (None, None)
        label_width = self._label_width()
        self.query_one("#window", Static).update(Text(self.window_text()))
        if isinstance(self.parent, Widget):
            self.parent.border_subtitle = KEYS if self.both else SWITCH_KEY + KEYS
        for name, rows, draw, heading in (
            ("heat", plan.heat, heat_strip, HEAT_HEADING),
            ("gantt", plan.gantt, gantt, GANTT_HEADING),
        ):
            static = self.query_one(f"#{name}", Static)
            static.display = rows > 0
            if rows <= 0:
                continue
            text = Text(heading[:width], style="bold", no_wrap=True, overflow="crop")
            if rows > 1:
                text.append("\n")
                text.append_text(draw(self.timeline, width, rows - 1, start, end, label_width))
            static.styles.height = rows
            static.update(text)
        shown_rows, self.figures_top, self._figures_last_top = figures_window(
            figure_rows, plan.figures, self.figures_top
        )
        shown_rows = [row[:width] for row in shown_rows]
        figures_static = self.query_one("#figures", Static)
        figures_static.display = bool(shown_rows)
        figures_static.styles.height = len(shown_rows)
        figures_static.update(Text("\n".join(shown_rows), no_wrap=True, overflow="crop"))


class TimelineScreen(ModalScreen[None]):
    """The timeline of one result, filling the terminal; Escape or q closes it."""

    BINDINGS = [
        Binding("escape,q", "dismiss", "Close"),
        Binding("plus,equals_sign", f"zoom({1 / ZOOM})", "Zoom in", show=False),
        Binding("minus", f"zoom({ZOOM})", "Zoom out", show=False),
        Binding("left", "pan(-1)", "Earlier", show=False),
        Binding("right", "pan(1)", "Later", show=False),
        Binding("0", "reset", "The whole run", show=False),
        Binding("v", "switch", "Cores or tasks", show=False),
        Binding("up", "scroll_figures(-1)", "Earlier figures", show=False),
        Binding("down", "scroll_figures(1)", "Later figures", show=False),
    ]
    DEFAULT_CSS = """
    TimelineScreen {
        & > #timeline {
            width: 100%;
            height: 100%;
            border: round $border;
            border-subtitle-color: $text-muted;
            background: $surface;
            padding: 0 1;
        }
        & .problem { color: $text-warning; }
    }
    """

    def __init__(self, result: Result, point_id: int | None = None) -> None:
        super().__init__()
        self.result = result
        self.point_id = point_id  # its stored id, which names it in the title
        self.problem: str | None = None
        self.timeline: Timeline | None = None
        try:
            self.timeline = timeline_of(result)
        except TimelineError as exc:
            self.problem = f"The timeline stored with this result cannot be read: {exc}"
        if self.timeline is None and self.problem is None:
            self.problem = f"No timeline: {why_no_timeline(result.partial)}."

    def compose(self) -> ComposeResult:
        result = self.result
        with Vertical(id="timeline") as box:
            stored = f" · #{self.point_id}" if self.point_id is not None else ""
            box.border_title = (
                f"Timeline · {task_label(result)} {result.train} x {result.eval}{stored}"
            )
            if self.timeline is None:
                box.border_subtitle = "Esc close"
                yield Static(Text(self.problem or ""), classes="problem")
                return
            box.border_subtitle = KEYS
            figures = figures_of(result, self.timeline)
            yield TimelineView(self.timeline, figures, runs=len(result.fit_times))

    @property
    def view(self) -> TimelineView | None:
        views = self.query(TimelineView)
        return views.first() if views else None

    def action_zoom(self, factor: float) -> None:
        if self.view is not None:
            self.view.zoom(factor)

    def action_pan(self, direction: int) -> None:
        if self.view is not None:
            self.view.pan(direction)

    def action_reset(self) -> None:
        if self.view is not None:
            self.view.reset()

    def action_switch(self) -> None:
        if self.view is not None:
            self.view.switch()

    def action_scroll_figures(self, lines: int) -> None:
        if self.view is not None:
            self.view.scroll_figures(lines)
