"""Plan a sweep of the chosen task: core counts, split strategy, repeats and warm-ups."""

from __future__ import annotations

from collections.abc import Mapping

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioSet, Static

from cpulab.engine.errors import UsageError
from cpulab.engine.spec import RunOptions
from cpulab.engine.sweep import STRATEGIES, SweepPlan, default_strategy, parse_cores, splits_for
from cpulab.engine.tasks import Task
from cpulab.ui.widgets.choice_button import ChoiceButton

MAX_POINTS_SHOWN = 8


class SweepDialog(ModalScreen[SweepPlan | None]):
    """Dismisses with a validated plan, or None when cancelled."""

    BINDINGS = [Binding("escape", "dismiss_none", "Close")]
    DEFAULT_CSS = """
    SweepDialog {
        align: center middle;
        & > Vertical {
            width: 74;
            height: auto;
            border: round $border;
            background: $surface;
            padding: 0 1;
        }
        & Horizontal { height: auto; margin-top: 1; }
        & Label { width: 12; padding: 0 1 0 0; }
        & Input { width: 1fr; }
        & RadioSet { width: 1fr; }
        & #plan { margin-top: 1; height: auto; }
        & #plan.-error { color: $text-error; }
        & #dialog-buttons { align-horizontal: right; }
        & Button { margin-left: 2; }
    }
    """

    def __init__(
        self,
        task: Task,
        scale: str,
        available: int,
        options: RunOptions | None = None,
        catalogue: Mapping[str, Task] | None = None,
    ) -> None:
        super().__init__()
        self.sweep_task, self.scale, self.available = task, scale, available
        self.options = options or RunOptions()
        self.catalogue = catalogue
        self.plan: SweepPlan | None = None

    def compose(self) -> ComposeResult:
        usable = [name for name in STRATEGIES if self._usable(name)]
        chosen = default_strategy(self.sweep_task)
        with Vertical() as box:
            box.border_title = f"Sweep {self.sweep_task.name} ({self.scale})"
            with Horizontal():
                yield Label("cores")
                yield Input("pow2", id="sweep-cores", compact=True)
            with Horizontal():
                yield Label("strategy")
                with RadioSet(id="sweep-strategy", compact=True):
                    for name in usable:
                        yield ChoiceButton(f"{name}: {STRATEGIES[name]}", value=name == chosen,
                                          name=name)  # fmt: skip
            with Horizontal():
                yield Label("repeats")
                yield Input("3", id="sweep-repeats", restrict=r"[0-9]*", compact=True)
            with Horizontal():
                yield Label("warm-ups")
                yield Input("1", id="sweep-warmup", restrict=r"[0-9]*", compact=True)
            yield Static(id="plan")
            with Horizontal(id="dialog-buttons"):
                yield Button("Start", id="sweep-start", variant="primary", compact=True)
                yield Button("Close", id="sweep-close", compact=True)

    def _usable(self, strategy: str) -> bool:
        try:
            splits_for(self.sweep_task, strategy, 2)
        except UsageError:
            return False
        return True

    def on_mount(self) -> None:
        self.query_one("#sweep-cores").focus()
        self.check_plan()

    @on(Input.Changed)
    @on(RadioSet.Changed)
    def check_plan(self) -> None:
        plan_view = self.query_one("#plan", Static)
        try:
            self.plan = self._read_plan()
        except UsageError as exc:
            self.plan = None
            plan_view.update(f"✗ {exc}")
            plan_view.add_class("-error")
        else:
            splits = [f"{t} x {e}" for t, e in self.plan.splits()]
            shown = ", ".join(splits[:MAX_POINTS_SHOWN])
            if len(splits) > MAX_POINTS_SHOWN:
                shown += f" and {len(splits) - MAX_POINTS_SHOWN} more"
            runs = self.plan.repeats + self.plan.warmup
            points = f"{len(splits)} point{'s' if len(splits) != 1 else ''}"
            each = f"{runs} run{'s' if runs != 1 else ''} each"
            plan_view.update(f"{points}, {each}: {shown}")
            plan_view.remove_class("-error")
        self.query_one("#sweep-start", Button).disabled = self.plan is None

    def _read_plan(self) -> SweepPlan:
        def count(selector: str, what: str) -> int:
            text = self.query_one(selector, Input).value
            if not text:
                raise UsageError(f"give the number of {what}")
            return int(text)

        pressed = self.query_one("#sweep-strategy", RadioSet).pressed_button
        strategy = pressed.name if pressed is not None else None
        plan = SweepPlan(
            task=self.sweep_task,
            scale=self.scale,
            strategy=strategy or default_strategy(self.sweep_task),
            cores=parse_cores(self.query_one("#sweep-cores", Input).value, self.available),
            repeats=count("#sweep-repeats", "repeats"),
            warmup=count("#sweep-warmup", "warm-ups"),
            available=self.available,
            options=self.options,
            catalogue=self.catalogue,
        )
        plan.spec()  # the same checks the run will meet
        return plan

    @on(Input.Submitted)
    @on(Button.Pressed, "#sweep-start")
    def start(self) -> None:
        if self.plan is not None:
            self.dismiss(self.plan)

    @on(Button.Pressed, "#sweep-close")
    def action_dismiss_none(self) -> None:
        self.dismiss(None)
