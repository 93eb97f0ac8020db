"""Fit time, or speedup, against cores used: every finished result on one plotext chart."""

from __future__ import annotations

from collections.abc import Mapping

from textual.color import Color, ColorParseError
from textual.reactive import reactive
from textual_plotext import PlotextPlot

from cpulab.engine.events import Result
from cpulab.engine.tasks import CATALOGUE, Task
from cpulab.ui.scaling import scaling_series
from cpulab.ui.themes import DEFAULT_VARIABLES

SERIES_COLOURS = ("primary", "accent", "success", "warning", "secondary", "error")


class ScalingChart(PlotextPlot):
    """Set `results` and `speedup`; the chart redraws, in the colours of the app theme."""

    results: reactive[tuple[Result, ...]] = reactive(())
    speedup: reactive[bool] = reactive(False)

    def __init__(self, tasks: Mapping[str, Task] | None = None, *, id: str | None = None):
        super().__init__(id=id)
        self.tasks = CATALOGUE if tasks is None else tasks  # what knobs each task has

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda theme: self.replot())

    def watch_results(self) -> None:
        self.replot()

    def watch_speedup(self) -> None:
        self.replot()

    def _rgb(self, variable: str) -> tuple[int, int, int]:
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

    def replot(self) -> None:
        plt = self.plt
        plt.clear_figure()
        series = scaling_series(self.results, self.speedup, self.tasks)
        plt.xlabel("cores (train x eval)")
        plt.ylabel("speedup" if self.speedup else "seconds")
        if not series:
            plt.title("speedup needs a 1 x 1 run" if self.results else "no results yet")
        cores = sorted({x for line in series for x, _ in line.points} | {1})
        top = max((y for line in series for _, y in line.points), default=1.0)
        muted = self._rgb("foreground-muted")
        dense = list(range(1, cores[-1] + 1))
        if self.speedup:
            # Up to twice the best speedup at most: ideal 256x would flatten a real 20x.
            reach = min(cores[-1], 2 * max(top, 1.0))
            plt.plot([1, reach], [1, reach], marker="braille", color=muted, label="ideal")
            top = max(top, reach)
        else:
            # Perfect scaling from each 1 x 1 time: T1 / p.
            for index, line in enumerate(s for s in series if s.base_time is not None):
                label = "ideal" if index == 0 else None
                plt.plot(dense, line.ideal(dense, False), marker="·", color=muted, label=label)
        for index, line in enumerate(series):
            colour = self._rgb(SERIES_COLOURS[index % len(SERIES_COLOURS)])
            xs, ys = zip(*line.points, strict=True)
            if line.fit is not None and (line.base_time is not None or not self.speedup):
                serial = line.fit.serial_fraction
                label = f"fit: serial {serial:.0%}" if serial is not None else "fit"
                plt.plot(dense, line.curve(dense, self.speedup), marker="·", color=colour,
                         label=label)  # fmt: skip
            plt.plot(xs, ys, marker="braille", color=colour, label=line.label)
            plt.scatter(xs, ys, marker="●", color=colour)
        # Headroom for plotext's legend, which sits over the top rows of the canvas;
        # at most half the height, or a small chart would be all headroom.
        rows = max(self.size.height - 5, 2)
        legend = len(series) + sum(line.fit is not None for line in series) + 1
        plt.xticks([float(p) for p in cores], [str(p) for p in cores])
        plt.xlim(0, cores[-1] + 1)
        plt.ylim(0, top * min(rows / max(rows - legend - 1, 1), 2))
        self.refresh()

    def on_resize(self) -> None:
        self.replot()
