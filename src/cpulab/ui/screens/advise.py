"""Ask for advice on the chosen task (the app's `cpulab advise`), and read it when it comes.

The dialog takes the budget, the most cores and the BLAS threads to try, checked as the
command line checks them; Enter starts the search from any field. The advice screen shows
the same lines `cpulab advise` prints, under how the search ended.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Label, Static

from cpulab.engine.advise import Advice, AdviceRequest, blas_choices, parse_duration
from cpulab.engine.cores import digits_value
from cpulab.engine.errors import UsageError
from cpulab.engine.memory import machine_limit
from cpulab.engine.tasks import Task
from cpulab.ui.screens.form import FormDialog
from cpulab.ui.screens.reading import ReadingScreen

DEFAULT_BUDGET = "5m"  # as `cpulab advise`


class AdviseDialog(FormDialog[AdviceRequest | None]):
    """Dismisses with a checked request, or None when closed."""

    def __init__(self, task: Task, scale: str, available: int) -> None:
        super().__init__()
        self.advise_task, self.scale, self.available = task, scale, available
        self.request: AdviceRequest | None = None
        self.memory_limit = machine_limit().bytes  # advice keeps within it

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = f"Advise on {self.advise_task.name} ({self.scale})"
            with Horizontal():
                yield Label("budget")
                yield Input(DEFAULT_BUDGET, id="advise-budget", compact=True)
            with Horizontal():
                yield Label("most cores")
                yield Input(str(self.available), id="advise-cores", compact=True)
            with Horizontal():
                yield Label("BLAS")
                yield Input("", placeholder="none, auto or 1,2,4", id="advise-blas", compact=True)
            yield Static(id="plan")
            with Horizontal(id="dialog-buttons"):
                yield Button("Start", id="advise-start", variant="primary", compact=True)
                yield Button("Close", id="advise-close", compact=True)

    def on_mount(self) -> None:
        self.query_one("#advise-budget").focus()
        self.check_request()

    @on(Input.Changed)
    def check_request(self) -> None:
        plan = self.query_one("#plan", Static)
        try:
            self.request = self._read()
        except UsageError as exc:
            self.request = None
            plan.update(f"✗ {exc}")
            plan.add_class("-error")
        else:
            plan.update(
                f"Measures 1 x 1 and a few core counts up to {self.request.max_cores}, then "
                "narrows the splits at the promising ones, within the budget. Every run is "
                "stored; c cancels and keeps the best so far."
            )
            plan.remove_class("-error")
        self.query_one("#advise-start", Button).disabled = self.request is None

    def _read(self) -> AdviceRequest:
        budget = parse_duration(self.query_one("#advise-budget", Input).value)
        text = self.query_one("#advise-cores", Input).value.strip()
        if not text.isdigit():
            raise UsageError(f"the most cores is a whole number, not {text!r}")
        cores = digits_value(text)
        if cores < 1:
            raise UsageError(f"the most cores is at least 1, not {cores}")
        if cores > self.available:  # every count above would be oversubscribed
            raise UsageError(f"{cores} cores: the most is the {self.available} available")
        blas = blas_choices(self.query_one("#advise-blas", Input).value, cores)
        return AdviceRequest(
            max_cores=cores,
            budget=budget,
            knobs=self.advise_task.knobs,
            blas=blas,
            memory_limit=self.memory_limit,
        )

    @on(Input.Submitted)
    @on(Button.Pressed, "#advise-start")
    def start(self) -> None:
        if self.request is not None:
            self.dismiss(self.request)

    @on(Button.Pressed, "#advise-close")
    def close(self) -> None:
        self.dismiss(None)


class AdviceScreen(ReadingScreen):
    """The advice, as `cpulab advise` prints it, under how the search ended."""

    DEFAULT_CSS = """
    AdviceScreen {
        & #advice-status { margin-bottom: 1; text-style: bold; }
        & .warning { color: $text-warning; }
    }
    """

    def __init__(self, title: str, advice: Advice, advice_id: int | None) -> None:
        super().__init__()
        self.title_text, self.advice, self.advice_id = title, advice, advice_id

    def compose(self) -> ComposeResult:
        with VerticalScroll() as box:
            box.border_title = "Advice"
            box.border_subtitle = "↑↓ scroll · Esc close"
            stored = f", stored as advice #{self.advice_id}" if self.advice_id else ""
            yield Static(f"{self.title_text}{stored}", id="advice-status", markup=False)
            for line in self.advice.lines():
                warning = line.startswith(("warning: ", "note: "))
                yield Static(line, classes="warning" if warning else "", markup=False)
