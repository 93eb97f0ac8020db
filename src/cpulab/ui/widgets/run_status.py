"""The state of the current or last run: its phase and progress, or how it ended."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from cpulab.engine.events import Cancelled, Error, Phase, Progress, Result
from cpulab.engine.presentation import flag_text, model_scores
from cpulab.engine.spec import RunSpec

STATES = ("-running", "-done", "-failed", "-cancelled")
BAR_WIDTH = 12
# Lines the status keeps, whatever it says: as many as a running one has, so that neither
# a run's start nor its end lays the screen out again (at 200x60 that was 20 to 35 ms a
# time, the chart drawn again at its new size). A longer error or result grows it. The
# one-view layouts let an idle status in the setup view take fewer (app.tcss), where a
# run's start changes the view anyway.
LINES = 3


def progress_bar(done: int, total: int) -> str:
    filled = round(BAR_WIDTH * done / total) if total else 0
    return "━" * filled + "─" * (BAR_WIDTH - filled)


def error_cause(error: Error) -> str | None:
    """The last line of the traceback, or of stderr where there is none (a runner that
    died), where it says more than the error. Beside a traceback, stderr is what the task
    printed: no cause."""
    text = error.traceback or error.stderr_tail
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines and lines[-1] != error.one_line() else None


class RunStatus(Static):
    _shown: tuple[str | None, str | Content] | None = None
    DEFAULT_CSS = f"""
    RunStatus {{
        height: auto;
        min-height: {LINES};
        color: $text-muted;
        &.-running {{ color: $text; }}
        &.-done {{ color: $text-success; }}
        &.-failed {{ color: $text-error; }}
        &.-cancelled {{ color: $text-warning; }}
    }}
    """

    def _show(self, state: str | None, text: str | Content) -> None:
        if (state, text) == self._shown:
            return
        self._shown = (state, text)
        for name in STATES:
            self.set_class(name == state, name)
        # Lay the screen out again only when the status changes height: a layout of the
        # whole screen at every progress event was most of the app's own CPU in a run.
        self.update(text, layout=False)
        width, height = self.content_size
        # The floor as styled now: a state's class just set restyles later, and lays the
        # screen out again itself where it changes the floor.
        floor = self.styles.min_height.cells if self.styles.min_height is not None else None
        needed = max(floor or 0, self.get_content_height(self.size, self.app.size, width))
        if not width or needed != height:
            self.refresh(layout=True)

    def show_idle(self) -> None:
        # v, where the panels do not all fit, is how the results are found at all.
        self._show(None, "Choose a task and a split, press r to run, v for the results.")

    def show_running(
        self,
        spec: RunSpec,
        phase: Phase | None,
        progress: Progress | None,
        elapsed: float,
        sweep: tuple[int, int] | None = None,  # (this point, points) of a sweep
    ) -> None:
        tail = f"{spec.label} · {elapsed:.0f} s"
        head = f"● {tail}"
        if sweep:  # points take turns; said short where the long form would wrap
            point, points = sweep
            head = f"● sweep point {point} of {points}: {tail}"
            if len(head) > self.content_size.width > 0:
                head = f"● point {point}/{points}: {tail}"
        step = phase.title if phase else "starting the runner"
        counts = {"fit": spec.repeats, "warmup": spec.warmup}
        if phase and phase.repeat and (count := counts.get(phase.name, 0)) > 1:
            step += f" {phase.repeat}/{count}"
        # LINES lines in every phase, the last blank without progress.
        bar = " "
        if progress and progress.total:
            done = f"{progress.done}/{progress.total} {progress.unit}"
            bar = f"{progress_bar(progress.done, progress.total)} {done}"
        self._show("-running", f"{head}\n{step}\n{bar}")

    def show_result(self, result: Result, gain: float | None) -> None:
        text = f"✓ {result.task} {result.train} x {result.eval}: {result.fit_time:.3f} s"
        if gain is not None:
            text += f", {gain:.2f}x the 1 x 1 speed"
        if per_model := model_scores(result):
            text += f"\n{result.metric}: {per_model}"
        flags = flag_text(result.flags)
        self._show(
            "-done", Content.assemble(text, (f"\n⚠ {flags}", "$text-warning") if flags else "")
        )

    def show_error(self, error: Error, spec: RunSpec | None = None) -> None:
        cause = error_cause(error)
        what = f"{spec.label}: " if spec is not None else ""
        self._show("-failed", f"✗ {what}{error.one_line()}" + (f"\n{cause}" if cause else ""))

    def show_not_saved(self, problem: str) -> None:
        """Under how the run ended, in the error colour until the next run: its results
        the store did not take, and why."""
        state, text = self._shown or (None, "")
        self._show(state, Content.assemble(text, (f"\n✗ not saved: {problem}", "$text-error")))

    def show_cancelled(self, cancelled: Cancelled) -> None:
        self._show("-cancelled", f"■ cancelled: every process stopped in {cancelled.seconds:.1f} s")
