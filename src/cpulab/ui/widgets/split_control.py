"""Training cores x evaluation cores, checked by the engine's rules as they are typed."""

from __future__ import annotations

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Input, Label, Static

from cpulab.engine.cores import CoreSplit
from cpulab.engine.errors import UsageError
from cpulab.engine.spec import RunOptions
from cpulab.engine.tasks import Task
from cpulab.ui.messages import SplitChanged

NESTED = "Training threads inside evaluation workers are not capped: they compete for cores."
OVER = "More workers than cores: they take turns."
BLAS = "Each thread may start as many BLAS/OpenMP threads as --blas-threads allows."
GAUGE_WIDTH = 12


def gauge(demand: int, available: int) -> str:
    """A bar of the threads asked for against the cores: full at one thread per core."""
    filled = round(GAUGE_WIDTH * min(demand / available, 1.0) * 8)
    full, part = divmod(filled, 8)
    bar = "█" * full + (" ▏▎▍▌▋▊▉"[part] if part else "")
    return f"▕{bar:<{GAUGE_WIDTH}}▏" + ("▶" if demand > available else "")


class CoreInput(Input):
    """A core count. Up and down step it; letters fall through to the app's keys."""

    BINDINGS = [
        Binding("up", "step(1)", "More cores", show=False),
        Binding("down", "step(-1)", "Fewer cores", show=False),
    ]

    def __init__(self, *, id: str, tooltip: str) -> None:
        super().__init__("1", restrict=r"-?[0-9]*", max_length=4, compact=True, id=id)
        self.tooltip = tooltip

    def check_consume_key(self, key: str, character: str | None) -> bool:
        return character is not None and (character.isdigit() or character == "-")

    async def _on_key(self, event: events.Key) -> None:
        if event.is_printable and not self.check_consume_key(event.key, event.character):
            event.prevent_default()  # skip Input's handler, which would swallow the key

    def action_step(self, delta: int) -> None:
        try:
            value = int(self.value)
        except ValueError:
            value = 1
        self.value = str(max(value + delta, 1))
        self.cursor_position = len(self.value)


class SplitControl(Widget):
    """Posts `SplitChanged` whenever the split or the task changes.

    `split` is the last usable split, `problem` why the current input is not one.
    """

    DEFAULT_CSS = """
    SplitControl {
        height: auto;
        & > Horizontal { height: 1; }
        & Label { padding: 0 1 0 0; }
        & CoreInput { width: 6; margin: 0 1 0 0; background: $panel; }
        & CoreInput:focus { background: $primary 30%; }
        & #verdict { height: auto; }
        & #verdict.-warning { color: $text-warning; }
        & #verdict.-error { color: $text-error; }
    }
    """

    # Not `task`: Textual's message pump has an attribute of that name.
    chosen_task: reactive[Task | None] = reactive(None)

    def __init__(
        self, available: int, *, options: RunOptions | None = None, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.available = available
        self.options = options or RunOptions()
        self.blas_threads = self.options.blas_threads
        self.split: CoreSplit | None = None
        self.problem: str | None = None

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Label("train")
            yield CoreInput(id="train", tooltip="training cores: the estimator's n_jobs")
            yield Label("x eval")
            yield CoreInput(id="eval", tooltip="evaluation cores: CV, search or models n_jobs")
        yield Static(id="verdict")

    def watch_chosen_task(self) -> None:
        self.check_split()

    @on(Input.Changed)
    def check_split(self) -> None:
        if not self.is_mounted or self.chosen_task is None:
            return
        verdict = self.query_one("#verdict", Static)
        try:
            split = CoreSplit.resolve(
                self.query_one("#train", Input).value,
                self.query_one("#eval", Input).value,
                self.available,
            )
            self.chosen_task.check_split(split)
            split.check_limits(self.options.allow_oversubscribe)
            self.options.backend_spec.check_split(split)
        except UsageError as exc:
            self.split, self.problem = None, str(exc)
            verdict.update(f"✗ {exc}")
            verdict.set_class(True, "-error").set_class(False, "-warning")
        else:
            self.split, self.problem = split, None
            verdict.update(self._verdict(split))
            local = self.options.backend_spec.cores_note is None
            over = local and split.demand(self.blas_threads) > split.available
            verdict.set_class(False, "-error").set_class(over, "-warning")
        self.post_message(SplitChanged(self.split, self.problem))

    def _verdict(self, split: CoreSplit) -> str:
        """The oversubscription gauge: threads asked for (workers x threads x BLAS) against
        the cores, and why more than one per core is asked for."""
        if note := self.options.backend_spec.cores_note:
            return f"{self.options.backend_spec.variant(self.options)}. {note}"
        demand = split.demand(self.blas_threads)
        blas = f" x {self.blas_threads} BLAS" if self.blas_threads else ""
        text = f"{gauge(demand, split.available)} {split.train} x {split.eval}{blas}"
        text += f" = {demand} of {split.available} cores"
        if demand <= split.available:
            return text
        if split.total > split.available:
            why = NESTED if split.train > 1 and split.eval > 1 else OVER
        else:
            why = BLAS
        return f"{text}\n⚠ oversubscribed {demand / split.available:.1f}x. {why}"
