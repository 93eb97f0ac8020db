"""Plan a sweep of the chosen task: core counts, split strategy, repeats and warm-ups.

Enter starts the sweep from any field. Core counts beyond the available cores are
oversubscribed: the plan says so, with how many points they make, and Enter (or Start)
must be pressed again to go ahead. The dialog opens where the last sweep of the app left
it: the same core counts and strategy.

Where the app's runs go to a Dask cluster the dialog sweeps the cluster's size instead, as
`cpulab sweep TASK --dask ADDRESS --workers LIST` does: joblib ignores n_jobs there, so the
counts are of workers, on the task's outer knob, and there is no strategy to choose.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from weakref import WeakKeyDictionary

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Input, Label, RadioSet, Static

from cpulab.engine.backends import DaskTarget
from cpulab.engine.cores import digits_value
from cpulab.engine.errors import UsageError
from cpulab.engine.spec import RunOptions
from cpulab.engine.sweep import (
    STRATEGIES,
    SweepPlan,
    cluster_size,
    default_strategy,
    listed,
    parse_cores,
    splits_for,
)
from cpulab.engine.tasks import Task
from cpulab.ui.screens.form import FormDialog
from cpulab.ui.widgets.choice_button import ChoiceButton

MAX_POINTS_SHOWN = 8
DEFAULT_CORES = "pow2"
ASKS = "Start asks to confirm."
CONFIRM = "Enter or Start again to go ahead."
# How a cluster-size sweep's points split their workers, by the task's outer knob.
WORKER_SPLITS = {
    "eval": "1 x workers: the workers run the evaluation",
    "train": "workers x 1: the workers run the training",
}


@dataclass(frozen=True)
class SweepChoice:
    """What the last sweep started in an app asked for: where its next dialog opens."""

    cores: str
    strategy: str


# Per app, and gone with it: each app (a test's included) starts from the defaults.
LAST_CHOICE: WeakKeyDictionary[App, SweepChoice] = WeakKeyDictionary()


class StrategyList(RadioSet, inherit_bindings=False):
    """The usable strategies. The arrows choose one (and the plan follows), Enter starts
    the sweep with it: RadioSet's own Enter would only choose."""

    BINDINGS = [
        Binding("down,right", "choose(1)", "Next strategy", show=False),
        Binding("up,left", "choose(-1)", "Previous strategy", show=False),
        Binding("enter", "submit", "Start the sweep", show=False),
    ]

    class Submitted(Message):
        """Enter on the list: start with the chosen strategy."""

    def __init__(self, names: list[str], chosen: str) -> None:
        # None pressed yet: pressing the chosen one once mounted moves the highlight to it.
        buttons = [ChoiceButton(f"{name}: {STRATEGIES[name]}", name=name) for name in names]
        super().__init__(*buttons, id="sweep-strategy", compact=True)
        self.names = names
        self.chosen = chosen  # read as the keys choose, before the buttons catch up

    def on_mount(self) -> None:
        self._press()

    def action_choose(self, step: int) -> None:
        self.chosen = self.names[(self.names.index(self.chosen) + step) % len(self.names)]
        self._press()

    def action_submit(self) -> None:
        self.post_message(self.Submitted())

    def _press(self) -> None:
        button = self.children[self.names.index(self.chosen)]
        assert isinstance(button, ChoiceButton)
        button.value = True  # RadioSet releases the others and highlights this one

    @on(RadioSet.Changed)
    def _clicked(self, message: RadioSet.Changed) -> None:
        if message.pressed.name is not None:
            self.chosen = message.pressed.name


class SweepDialog(FormDialog[SweepPlan | None]):
    """Dismisses with a validated plan, or None when cancelled."""

    DEFAULT_CSS = """
    SweepDialog RadioSet { width: 1fr; }
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
        self.asked: str | None = None  # the oversubscription the user was asked about
        # On a cluster the sweep varies its size: core counts would change nothing there.
        self.by_workers = self.options.cluster is not None

    def compose(self) -> ComposeResult:
        if self.by_workers:
            yield from self._compose_workers()
            return
        usable = [name for name in STRATEGIES if self._usable(name)]
        last = LAST_CHOICE.get(self.app)
        cores = last.cores if last else DEFAULT_CORES
        if last and last.strategy in usable:
            chosen = last.strategy
        else:
            chosen = default_strategy(self.sweep_task)
        with Vertical() as box:
            box.border_title = f"Sweep {self.sweep_task.name} ({self.scale})"
            with Horizontal():
                yield Label("cores")
                yield Input(cores, id="sweep-cores", classes="sweep-counts", compact=True)
            with Horizontal():
                yield Label("strategy")
                yield StrategyList(usable, chosen)
            yield from self._compose_runs()

    def _compose_workers(self) -> ComposeResult:
        last = LAST_CHOICE.get(self.app)
        workers = last.cores if last is not None else self._default_workers()
        with Vertical() as box:
            box.border_title = f"Sweep {self.sweep_task.name} ({self.scale}) on Dask"
            box.border_subtitle = self.options.cluster
            with Horizontal():
                yield Label("workers")
                yield Input(
                    workers,
                    placeholder="1,2,4, 1-8 or pow2",
                    id="sweep-workers",
                    classes="sweep-counts",
                    compact=True,
                )
            with Horizontal():
                yield Label("split")
                yield Static(WORKER_SPLITS[default_strategy(self.sweep_task)], id="sweep-split")
            yield from self._compose_runs()

    def _default_workers(self) -> str:
        """pow2 up to local:N's N, written out; nothing for a running cluster, whose size
        is unknown here: the user says (the plan then asks for it)."""
        try:
            local = DaskTarget.parse(self.options.cluster or "").local_workers
            if local is None:
                return ""
            counts, _ = cluster_size("pow2", self.options, self.available)
        except UsageError:  # the plan says what is wrong with the cluster
            return ""
        return ",".join(map(str, counts))

    def _compose_runs(self) -> ComposeResult:
        """The fields and buttons every sweep has: repeats, warm-ups, the plan, Start."""
        with Horizontal():
            yield Label("repeats")
            yield Input("3", id="sweep-repeats", compact=True)
        with Horizontal():
            yield Label("warm-ups")
            yield Input("1", id="sweep-warmup", compact=True)
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
        self.query_one(".sweep-counts").focus()
        self.check_plan()

    @on(Input.Changed)
    @on(RadioSet.Changed)
    def check_plan(self) -> None:
        try:
            self.plan = self._read_plan()
        except UsageError as exc:
            self.plan = None
            self._show_problem(str(exc))
        else:
            self._show_plan(self.plan)
        self.query_one("#sweep-start", Button).disabled = self.plan is None

    def _show_problem(self, problem: str) -> None:
        plan_view = self.query_one("#plan", Static)
        plan_view.update(f"✗ {problem}")
        plan_view.set_class(True, "-error").set_class(False, "-warning")

    def _show_plan(self, plan: SweepPlan) -> None:
        splits = [f"{t} x {e}" for t, e in plan.splits()]
        shown = ", ".join(splits[:MAX_POINTS_SHOWN])
        if len(splits) > MAX_POINTS_SHOWN:
            shown += f" and {len(splits) - MAX_POINTS_SHOWN} more"
        runs = plan.repeats + plan.warmup
        points = f"{len(splits)} point{'s' if len(splits) != 1 else ''}"
        each = f"{runs} run{'s' if runs != 1 else ''} each"
        if self.by_workers:
            counts = list(plan.cores)
            shown = f"{listed(counts)} worker{'s' if counts != [1] else ''} ({shown})"
        text = f"{points}, {each}: {shown}"
        beyond = plan.oversubscription()
        if beyond != self.asked:
            self.asked = None  # another plan: asked afresh
        if beyond is not None:
            text += f"\n⚠ {beyond[0].upper()}{beyond[1:]}. {CONFIRM if self.asked else ASKS}"
        plan_view = self.query_one("#plan", Static)
        plan_view.update(text)
        plan_view.set_class(False, "-error").set_class(beyond is not None, "-warning")

    def _read_plan(self) -> SweepPlan:
        def count(selector: str, what: str) -> int:
            text = self.query_one(selector, Input).value.strip()
            if not text:
                raise UsageError(f"give the number of {what}")
            if not re.fullmatch(r"[0-9]+", text):
                raise UsageError(f"{what}: whole numbers only, not {text!r}")
            return digits_value(text)

        counts_text = self.query_one(".sweep-counts", Input).value
        options = self.options
        if self.by_workers:
            if not counts_text.strip():
                raise UsageError("give the numbers of workers to sweep, such as 1,2,4")
            # What --workers builds: the counts, and options that give each point as many
            # workers as its core count, on the task's outer knob.
            cores, options = cluster_size(counts_text, options, self.available, field="workers")
            strategy = default_strategy(self.sweep_task)
        else:
            cores = parse_cores(counts_text, self.available)
            strategy = self.query_one(StrategyList).chosen
        plan = SweepPlan(
            task=self.sweep_task,
            scale=self.scale,
            strategy=strategy,
            cores=cores,
            repeats=count("#sweep-repeats", "repeats"),
            warmup=count("#sweep-warmup", "warm-ups"),
            available=self.available,
            options=options,
            catalogue=self.catalogue,
        )
        plan.spec()  # the same checks the run will meet
        return plan

    @on(Input.Submitted)
    @on(StrategyList.Submitted)
    @on(Button.Pressed, "#sweep-start")
    def start(self) -> None:
        """Start the plan as the fields read now; one beyond the available cores only
        once asked about."""
        self.check_plan()
        if self.plan is None:
            self.app.bell()
            return
        beyond = self.plan.oversubscription()
        if beyond is not None and self.asked != beyond:
            self.asked = beyond
            self._show_plan(self.plan)
            return
        cores = self.query_one(".sweep-counts", Input).value
        LAST_CHOICE[self.app] = SweepChoice(cores, self.plan.strategy)
        self.dismiss(self.plan)

    @on(Button.Pressed, "#sweep-close")
    def action_dismiss_none(self) -> None:
        self.dismiss(None)
