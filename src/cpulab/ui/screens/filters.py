"""Choose what the results table and the chart show: task, variant, scale, machine, sweep."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Label, Select

from cpulab.engine.tasks import SCALES
from cpulab.ui.widgets.choice_button import TickBox
from cpulab.ui.workspace import Filters

ANY = "\0any"  # the value of "any" in a Select: one no task, variant or sweep has


class FilterDialog(ModalScreen[tuple[Filters, bool] | None]):
    """Dismisses with the filters chosen and whether to show hidden results again, or
    None when closed without applying."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Close")]
    DEFAULT_CSS = """
    FilterDialog {
        align: center middle;
        & > Vertical {
            width: 64;
            max-width: 100%;
            height: auto;
            max-height: 100%;
            border: round $border;
            background: $surface;
            padding: 0 1;
        }
        & Horizontal { height: auto; }
        & Label { width: 10; padding: 0 1 0 0; }
        & Select { width: 1fr; }
        & Checkbox { margin-top: 1; }
        & #filter-buttons { margin-top: 1; align-horizontal: right; }
        & Button { margin-left: 2; }
    }
    """

    def __init__(
        self,
        filters: Filters,
        *,
        chosen_task: str,
        tasks: Sequence[str],
        variants: Sequence[str],
        sweeps: Mapping[str, tuple[str, str]],
        machines: Mapping[int, str],
        hidden: int,
    ) -> None:
        """`chosen_task`: the task list's, which "task" shows unless another is chosen;
        `sweeps`: each sweep's task and label, by its key. The filters' own variant and
        sweep are among the choices whether or not anything in view has them."""
        super().__init__()
        self.filters, self.chosen_task = filters, chosen_task
        if filters.variant is not None and filters.variant not in variants:
            variants = [*variants, filters.variant]
        if filters.sweep is not None and filters.sweep not in sweeps:
            sweeps = {**sweeps, filters.sweep: ("", f"sweep {filters.sweep}")}
        self.tasks, self.variants, self.sweeps = tasks, variants, sweeps
        self.machines, self.hidden = machines, hidden
        self._sweeps_for = filters.task or chosen_task  # the task the sweep list is of

    def _sweeps_of(self, task: str) -> list[tuple[str, str]]:
        """The sweeps to choose from for `task`, (label, key): a sweep of another task would
        show nothing. The filters' own stays among them: it is what is shown now."""
        kept = self.filters.sweep
        return [
            (label, key) for key, (of, label) in self.sweeps.items() if task == of or key == kept
        ]

    def compose(self) -> ComposeResult:
        f = self.filters

        def select(id_: str, options: list[tuple[str, object]], value: object) -> Select:
            # Select needs hashable values; None stands for "any" through a sentinel.
            return Select(
                [(label, ANY if v is None else v) for label, v in options],
                value=ANY if value is None else value,
                allow_blank=False,
                id=id_,
                compact=True,
            )

        with Vertical() as box:
            box.border_title = "Show"
            with Horizontal():
                yield Label("task")
                tasks: list[tuple[str, object]] = [("the one chosen in the list", None)]
                yield select("filter-task", tasks + [(t, t) for t in self.tasks], f.task)
            with Horizontal():
                yield Label("variant")
                variants = [(v or "none (the plain task)", v) for v in self.variants]
                yield select("filter-variant", [("any", None), *variants], f.variant)
            with Horizontal():
                yield Label("scale")
                yield select("filter-scale", [("any", None), *((s, s) for s in SCALES)], f.scale)
            with Horizontal():
                yield Label("machine")
                machines = [(label, id_) for id_, label in self.machines.items()]
                yield select("filter-machine", [("this one", None), *machines], f.machine)
            with Horizontal():
                yield Label("sweep")
                sweeps = self._sweeps_of(self._sweeps_for)
                yield select("filter-sweep", [("any", None), *sweeps], f.sweep)
            yield TickBox(
                "earlier results from the store", f.history, id="filter-history", compact=True
            )
            unhide = TickBox(
                f"show the {self.hidden} hidden again", False, id="filter-unhide", compact=True
            )
            unhide.display = bool(self.hidden)
            yield unhide
            with Horizontal(id="filter-buttons"):
                yield Button("Reset", id="filter-reset", compact=True)
                yield Button("Apply", id="filter-apply", variant="primary", compact=True)

    def _text(self, id_: str) -> str | None:
        value = self.query_one(f"#{id_}", Select).value
        return value if isinstance(value, str) and value != ANY else None

    def chosen(self) -> Filters:
        machine = self.query_one("#filter-machine", Select).value
        return Filters(
            task=self._text("filter-task"),
            variant=self._text("filter-variant"),
            scale=self._text("filter-scale"),
            machine=machine if isinstance(machine, int) else None,
            sweep=self._text("filter-sweep"),
            history=self.query_one("#filter-history", Checkbox).value,
        )

    @on(Select.Changed, "#filter-task")
    def _task_changed(self) -> None:
        """Only the chosen task's sweeps to choose from; one chosen of it stays chosen. (The
        field says it changed as it mounts too, to the value it was made with.)"""
        task = self._text("filter-task") or self.chosen_task
        if task == self._sweeps_for:
            return
        self._sweeps_for = task
        sweep = self.query_one("#filter-sweep", Select)
        chosen = sweep.value
        options = [("any", ANY), *self._sweeps_of(task)]
        sweep.set_options(options)
        if any(value == chosen for _, value in options):
            sweep.value = chosen

    @on(Button.Pressed, "#filter-apply")
    def _apply(self) -> None:
        self.dismiss((self.chosen(), self.query_one("#filter-unhide", Checkbox).value))

    @on(Button.Pressed, "#filter-reset")
    def _reset(self) -> None:
        self.dismiss((Filters(), self.query_one("#filter-unhide", Checkbox).value))
