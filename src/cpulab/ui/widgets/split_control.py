"""Training cores x evaluation cores, checked by the engine's rules as they are typed."""

from __future__ import annotations

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.validation import ValidationResult, Validator
from textual.widget import Widget
from textual.widgets import Input, Label, Static

from cpulab.engine.cores import WHOLE_NUMBER, CoreSplit
from cpulab.engine.errors import UsageError
from cpulab.engine.spec import RunOptions, oversubscription
from cpulab.engine.tasks import Task
from cpulab.ui.messages import SplitChanged

NESTED = "Training threads inside evaluation workers are not capped: they compete for cores."
OVER = "More workers than cores: they take turns."
BLAS = "Each thread may start as many BLAS/OpenMP threads as --blas-threads allows."
NOT_WHOLE = "whole numbers only"
ASKS = "Run asks to confirm it."
CONFIRM = "Run again (r) to go ahead oversubscribed."
CONFIRMED = "Confirmed: r runs it oversubscribed."
GAUGE_WIDTH = 12


def gauge(demand: int, available: int) -> str:
    """A bar of the threads asked for against the cores: full at one thread per core."""
    filled = round(GAUGE_WIDTH * min(demand / available, 1.0) * 8)
    full, part = divmod(filled, 8)
    bar = "█" * full + (" ▏▎▍▌▋▊▉"[part] if part else "")
    return f"▕{bar:<{GAUGE_WIDTH}}▏" + ("▶" if demand > available else "")


class WholeNumber(Validator):
    """A count in ASCII digits, as the engine reads it (-1: every core)."""

    def validate(self, value: str) -> ValidationResult:
        return self.success() if WHOLE_NUMBER.fullmatch(value.strip()) else self.failure()


# The app's keys, by the ids of its bindings, that a letter typed in a core count reaches:
# those that run or stop work, or change the whole view (the chart's axis, the panels, the
# filters, the theme, help). The others act on the results table's selected row or on the
# session's results (h hides, d deletes, u undoes a delete, x clears, l opens a timeline):
# from a field the user types in they would hit what is out of sight, so they are typed
# as text, and refused as no number.
KEYS_FROM_A_COUNT = frozenset(
    {"run", "sweep", "advise", "cancel", "help", "quit", "switch_view", "speedup", "filters",
     "theme", "core_history"}
)  # fmt: skip


class CoreInput(Input):
    """A core count. Up and down step it; a letter that is one of the app's keys in
    KEYS_FROM_A_COUNT reaches it. Anything else is typed as it is, so that `1.5` reads as
    `1.5`, refused as no whole number, rather than as the 15 left once the point is
    dropped. What it shows is selected on focus, after a step and after an app key (r
    runs): the next digit replaces the number instead of running on from it."""

    BINDINGS = [
        Binding("up", "step(1)", "More cores", show=False),
        Binding("down", "step(-1)", "Fewer cores", show=False),
    ]

    def __init__(self, *, id: str, tooltip: str) -> None:
        super().__init__(
            "1",
            max_length=4,
            validators=[WholeNumber(failure_description=NOT_WHOLE)],
            valid_empty=True,  # said by the engine: a number is missing, not a wrong one
            compact=True,
            id=id,
        )
        self.tooltip = tooltip

    def check_consume_key(self, key: str, character: str | None) -> bool:
        # Letters stay the app's keys (r runs, w sweeps) unless typed where none is bound.
        return character is not None and character.isprintable() and not character.isalpha()

    async def _on_key(self, event: events.Key) -> None:
        letter = event.is_printable and not self.check_consume_key(event.key, event.character)
        bound = self.screen.active_bindings.get(event.key) if letter else None
        if bound is not None and bound.binding.id in KEYS_FROM_A_COUNT:
            event.prevent_default()  # skip Input's handler: the key bubbles up to its binding
            self.select_all()

    def action_step(self, delta: int) -> None:
        try:
            value = int(self.value)
        except ValueError:
            value = 1
        self.value = str(max(value + delta, 1))
        self.select_all()


class SplitControl(Widget):
    """Posts `SplitChanged` whenever the split or the task changes.

    `split` is the last usable split, `problem` why the current input is not one. A split
    beyond the available cores is usable once confirmed: `confirm_run` asks.
    """

    DEFAULT_CSS = """
    SplitControl {
        height: auto;
        & > Horizontal { height: 1; }
        & Label { padding: 0 1 0 0; }
        & CoreInput { width: 6; margin: 0 1 0 0; background: $panel; }
        & CoreInput:focus { background: $primary 30%; }
        & CoreInput.-invalid { color: $text-error; }
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
        # The split beyond the cores the user was asked about, and the one a second run
        # confirmed; each forgotten once the split changes.
        self.asked: CoreSplit | None = None
        self.confirmed: CoreSplit | None = None

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
        before = (self.split, self.problem, self.asked, self.confirmed)
        try:
            self.split, self.problem = self._read_split(self.chosen_task), None
        except UsageError as exc:
            self.split, self.problem = None, str(exc)
        if self.split != self.asked:
            self.asked = self.confirmed = None
        if (self.split, self.problem, self.asked, self.confirmed) == before:
            return  # a check as a run starts, say: nothing to draw or to tell
        self._show()
        self.post_message(SplitChanged(self.split, self.problem))

    def _read_split(self, task: Task) -> CoreSplit:
        train, eval = self.query_one("#train", Input), self.query_one("#eval", Input)
        for field, what in ((train, "training cores"), (eval, "evaluation cores")):
            if not field.is_valid:
                raise UsageError(f"{what}: {NOT_WHOLE}, not {field.value!r}")
        split = CoreSplit.resolve(train.value, eval.value, self.available)
        task.check_split(split)
        split.check_limits(self.options.allow_oversubscribe)
        self.options.backend_spec.check_split(split)
        return split

    @property
    def beyond_cores(self) -> str | None:
        """What the split asks beyond the available cores, in words; None where it asks no
        more, or where there is no split."""
        return None if self.split is None else oversubscription(self.split, self.options)

    def confirm_run(self) -> bool:
        """Whether a run of `split` may start now. One beyond the available cores asks
        first, even where --allow-oversubscribe lifted the cap: the first call says so
        and returns False, the next True; the split stays confirmed until it changes."""
        if self.beyond_cores is None or self.confirmed == self.split:
            return True
        if self.asked == self.split:
            self.confirmed = self.split
        else:
            self.asked = self.split
        self._show()
        return self.confirmed == self.split

    def _show(self) -> None:
        verdict = self.query_one("#verdict", Static)
        if self.split is None:
            verdict.update(f"✗ {self.problem}")
            verdict.set_class(True, "-error").set_class(False, "-warning")
            return
        verdict.update(self._verdict(self.split))
        local = self.options.backend_spec.cores_note is None
        over = local and self.split.demand(self.blas_threads) > self.split.available
        verdict.set_class(False, "-error").set_class(over, "-warning")

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
        text += f"\n⚠ oversubscribed {demand / split.available:.1f}x. {why}"
        if oversubscription(split, self.options) is not None:
            asked = self.asked == split
            text += "\n" + (CONFIRMED if self.confirmed == split else CONFIRM if asked else ASKS)
        return text
