"""How a sweep went, shown when it ends: the report `cpulab sweep` prints, built from the
same engine analysis and presentation, under a line that says how the sweep ended."""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from cpulab.engine.memory import MemoryModel, machine_limit
from cpulab.engine.presentation import (
    SCALING_HEADER,
    best_splits_line,
    fit_summary,
    point_notes,
    points_done,
    scaling_rows,
    sweep_lines,
    variant_label,
)
from cpulab.engine.session import Outcome
from cpulab.engine.stats import ScalingReport, analyse_results
from cpulab.engine.sweep import SweepPlan
from cpulab.ui.screens.reading import ReadingScreen

# How each session status reads, with RunStatus's marks.
STATUS_WORDS = {
    "done": "✓ finished",
    "cancelled": "■ cancelled",
    "failed": "✗ failed",
    "interrupted": "■ interrupted",
    "refused": "✗ refused",
}
CAPTION = "* the fastest split of its cores"
# A cluster-size sweep's core counts are workers, each count a single split.
WORKERS_CAPTION = "cores: the cluster's workers each point used, one split each (*)"


def points_table(report: ScalingReport) -> Table:
    """The CLI's table of points, its columns and rows, narrow enough for 80 columns."""
    table = Table(
        box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True, expand=False
    )
    for name in SCALING_HEADER:
        table.add_column(name, justify="left" if name == "split" else "right", no_wrap=True)
    for row in scaling_rows(report):
        table.add_row(*row)
    return table


def report_lines(report: ScalingReport, model: Sequence[str] = ()) -> list[str]:
    """What the CLI prints under its table: the fit, the best splits, the scaling model's
    lines (see model_lines), every warning."""
    lines = [fit_summary(report)]
    if (best := best_splits_line(report)) is not None:
        lines.append(best)
    lines.extend(model)
    return lines + [f"warning: {w}" for w in point_notes(report) + report.warnings()]


class SweepSummary(ReadingScreen):
    """A sweep's report; Escape, Enter or q closes it.

    `report` is None when no point finished; `state` is the session's status (done,
    cancelled, failed, interrupted or refused), which colours the `status` line.
    """

    BINDINGS = [Binding("enter", "dismiss", "Close", show=False)]
    DEFAULT_CSS = """
    SweepSummary {
        & > VerticalScroll { max-width: 120; }
        & #sweep-title { text-style: bold; }
        & #sweep-status { margin-bottom: 1; }
        & #sweep-status.-done { color: $text-success; }
        & #sweep-status.-failed, & #sweep-status.-refused { color: $text-error; }
        & #sweep-status.-cancelled, & #sweep-status.-interrupted { color: $text-warning; }
        & .caption { color: $text-muted; margin-bottom: 1; }
        & .warning { color: $text-warning; }
    }
    """

    def __init__(
        self,
        report: ScalingReport | None,
        title: str,
        status: str = "",
        state: str = "done",
        model: Sequence[str] = (),
        caption: str = CAPTION,
    ) -> None:
        super().__init__()
        self.report, self.title_text, self.status, self.state = report, title, status, state
        self.model = model  # the scaling model's lines, as `cpulab sweep` prints them
        self.caption = caption  # what the table's core counts and its * mean

    @classmethod
    def of(
        cls, plan: SweepPlan, outcome: Outcome, memory: MemoryModel | None = None
    ) -> SweepSummary:
        """The summary of a sweep that ran `plan` and ended with `outcome`: its finished
        and partial points analysed together, as `cpulab sweep` does; `memory`, the model
        of what the task's stored runs needed, as `cpulab sweep` reads it at its end."""
        results = outcome.results + outcome.partial
        label = variant_label(plan.task.name, plan.options.variant)
        caption = WORKERS_CAPTION if plan.options.cluster_workers else CAPTION
        title = f"{label} ({plan.scale}), {plan.varies}"
        if outcome.sweep_id is not None:
            title += f", sweep {outcome.sweep_id}"
        done = points_done(len(outcome.results), len(outcome.partial), len(plan.splits()))
        word = STATUS_WORDS.get(outcome.status, outcome.status)
        if outcome.status == "interrupted" and outcome.signal_name:
            word += f" by {outcome.signal_name}"
        status = f"{word}: {done}"
        if outcome.error is not None:
            status += f"\n{outcome.error.one_line()}"
        report = analyse_results(results) if results else None
        lines = []
        if report is not None:
            limit = machine_limit()
            lines = sweep_lines(report, outcome.model, memory, limit, plan.strategy, results[0])
        return cls(report, title, status, outcome.status, lines, caption)

    def compose(self) -> ComposeResult:
        with VerticalScroll() as box:
            box.border_title = "Sweep summary"
            box.border_subtitle = "↑↓ scroll · Esc close"
            yield Static(Text(self.title_text), id="sweep-title")  # a variant is in brackets
            yield Static(Text(self.status), id="sweep-status", classes=f"-{self.state}")
            if self.report is None:
                yield Static("No point finished: there is nothing to analyse.")
                return
            yield Static(points_table(self.report), id="sweep-points")
            if len(self.report.points) > 1:
                yield Static(self.caption, classes="caption")
            for line in report_lines(self.report, self.model):
                warning = line.startswith("warning: ")
                yield Static(Text(line), classes="warning" if warning else "")
