"""The cpulab app: choose a task and a core split, run it, watch every core, compare.

Each run or sweep is an engine `Session` (the same the CLI uses): it starts the child
process through the Supervisor, stores every result off the UI thread and records how a
sweep ended; a worker hands its events to the app as messages. Sampling runs in a thread
at `sample_hz`. Both edges are constructor parameters, so tests drive the app with fakes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.css.query import NoMatches
from textual.dom import DOMNode
from textual.geometry import Size
from textual.reactive import var
from textual.theme import Theme
from textual.widget import Widget
from textual.widgets import (
    Button,
    Label,
    OptionList,
    RadioSet,
    Static,
)
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from cpulab.engine.errors import INTERRUPTING_SIGNALS, Interrupted, UsageError
from cpulab.engine.events import (
    Cancelled,
    Error,
    Event,
    Phase,
    Progress,
    Result,
    Started,
    WorkerLoad,
)
from cpulab.engine.machine import machine_facts
from cpulab.engine.memory import MemoryModel, machine_limit, model_for, predicted_need, splits_of
from cpulab.engine.plugins import Catalogue
from cpulab.engine.presentation import counted, variant_label
from cpulab.engine.session import AGAIN, Outcome, Session, continue_runner
from cpulab.engine.settings import Settings, load_settings, save_setting
from cpulab.engine.spec import RunOptions, RunSpec
from cpulab.engine.store import ResultStore
from cpulab.engine.supervisor import Supervisor
from cpulab.engine.sweep import SweepPlan
from cpulab.engine.tasks import KNOB_TITLES, SCALES, Task
from cpulab.engine.topology import Topology, machine_topology
from cpulab.monitor.sampler import DEFAULT_HZ, PsutilSampler, Sampler, check_sample_hz
from cpulab.startup import release_collector
from cpulab.ui.commands import CpulabCommands
from cpulab.ui.messages import (
    AdviceEnded,
    HistoryLoaded,
    RunEnded,
    RunEvent,
    SplitChanged,
    StoreProblem,
)
from cpulab.ui.restyle import update_classes_restyling_selected
from cpulab.ui.scaling import Entry, Speedup, speedups
from cpulab.ui.screens.confirm import Confirm
from cpulab.ui.screens.filters import FilterDialog
from cpulab.ui.screens.help import HelpScreen, KeyHelp
from cpulab.ui.screens.result_details import ResultDetails
from cpulab.ui.screens.sweep_dialog import SweepDialog
from cpulab.ui.screens.sweep_summary import SweepSummary
from cpulab.ui.screens.theme_picker import ThemePicker
from cpulab.ui.screens.timeline import TimelineScreen
from cpulab.ui.settings import Keymap, make_keymap
from cpulab.ui.themes import DEFAULT_THEME, ThemeCatalog
from cpulab.ui.widgets import (
    ChoiceButton,
    CoreGrid,
    KeysFooter,
    ResultsTable,
    RunStatus,
    ScalingChart,
    SplitControl,
    WorkerGrid,
)
from cpulab.ui.widgets.kept_lines import KeptHeader, KeptHorizontal, KeptScreen, KeptVertical
from cpulab.ui.workspace import HISTORY_LIMIT, Filters, HistoryQuery, Workspace

# The advice search (statistics, models) loads when advice is first asked for.
if TYPE_CHECKING:
    from cpulab.engine.advise import AdviceRequest
    from cpulab.engine.advise_runs import RunnerMeasurer
FALLBACK_THEME = "textual-dark"  # should the shipped themes be missing
RECENT_SWEEPS = 30  # offered by the filter dialog, besides those on view
# Seconds between redraws of a running status (its elapsed time is in whole seconds):
# each redraw is a frame of its own, which costs as much as the cores' frame.
STATUS_INTERVAL = 1.0
PHASE_WAIT = 0.25  # seconds a phase may wait for the next sample, to be drawn in its frame
EXIT_GRACE = 5.0  # seconds a signalled app may take to give its terminal back


def describe_task(task: Task, options: RunOptions, catalogue: Catalogue) -> Text:
    knobs = " and ".join(KNOB_TITLES[k] for k in sorted(task.knobs, reverse=True))
    text = Text(task.title, style="bold")
    text.append(f"\n{task.description}\n")
    if task.small:
        text.append(f"At small scale: {task.small}\n")
    text.append(f"Uses {knobs}; scored by {task.metric}.", style="italic")
    if task.origin != "built-in":
        text.append(f"\nFrom {task.origin}.", style="italic")
    if options.data is not None:
        try:
            task.check_data(options.data, catalogue.tasks)
        except UsageError as exc:
            text.append(f"\n⚠ {exc}", style="bold")
        else:
            text.append(f"\nRuns on your data: {options.data.label}.", style="bold")
    return text


def breakpoint_classes(
    size: Size, horizontal: list[tuple[int, str]], vertical: list[tuple[int, str]]
) -> dict[str, bool]:
    """Textual's breakpoint classes for a screen of `size`: each class named, with whether
    it applies (in each list, the last whose least size is reached)."""
    classes: dict[str, bool] = {}
    for dimension, breakpoints in ((size.width, horizontal), (size.height, vertical)):
        reached = [name for least, name in sorted(breakpoints) if dimension >= least]
        classes |= {name: bool(reached) and name == reached[-1] for _, name in breakpoints}
    return classes


def task_option(task: Task) -> Option:
    prompt = Text(f"{task.name:<20}", style="bold")  # the longest name and a space
    prompt.append(task.title, style="italic")
    return Option(prompt, id=task.name)


class CpulabApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "cpulab"
    # Narrower than 110 columns or shorter than 32 rows, one view at a time (app.tcss).
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-medium"), (180, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-tiny"), (24, "-short"), (32, "-tall")]
    VIEWS = ("setup", "results", "chart")  # what v shows in turn, and focuses at any size
    # Each has an id: the name the settings file's [keys] table changes its keys by.
    BINDINGS = [
        Binding("r", "run", "Run", id="run"),
        Binding("v", "switch_view", "Switch panel", id="switch_view"),
        Binding("w", "sweep", "Sweep", id="sweep"),
        Binding("a", "advise", "Advise", id="advise"),
        Binding("c", "cancel", "Cancel", id="cancel"),
        # Help and Quit before the rest: a footer 80 columns wide shows the first seven.
        Binding("f1,question_mark", "help", "Help", id="help"),
        Binding("q", "quit", "Quit", id="quit"),
        Binding("s", "toggle_speedup", "Time/speedup", id="speedup"),
        Binding("f", "filters", "Filter", id="filters"),
        Binding("h", "hide", "Hide", show=False, id="hide"),
        Binding("d", "delete", "Delete", show=False, id="delete"),
        Binding("u", "undo_delete", "Undo delete", show=False, id="undo_delete"),
        Binding("x", "clear_session", "Clear", show=False, id="clear"),
        Binding("l", "timeline", "Timeline of the result", show=False, id="timeline"),
        Binding("m", "core_history", "Cores now or the last minute", show=False, id="core_history"),
        Binding("t", "pick_theme", "Theme", id="theme"),
        # Dialogs and the help close on Escape too, by their own bindings.
        Binding("escape", "hide_help_panel", "Close the keys panel", show=False, id="close"),
        Binding("ctrl+z", "suspend_process", "Suspend to the shell", show=False, id="suspend"),
    ]
    # Every action with its key, and Textual's own commands but those it replaces.
    COMMANDS = {CpulabCommands}

    # A var: what shows it (the buttons, the status) redraws itself; a reactive would
    # repaint the whole screen at each run's start and end.
    running: var[bool] = var(False, init=False)

    def __init__(
        self,
        sampler: Sampler | None = None,
        supervisor: Supervisor | None = None,
        theme: str | None = None,
        sample_hz: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        themes: ThemeCatalog | None = None,
        store: ResultStore | None = None,
        catalogue: Catalogue | None = None,
        options: RunOptions | None = None,
        settings_file: Path | None = None,
        topology: Topology | None = None,
        ends_on_signals: bool = False,
    ) -> None:
        """`settings_file`: the user's settings, for what the arguments leave open (theme,
        sample_hz) and the rest (scale, keys, screenshots); theme changes are written to
        it. None: the defaults, and nothing written. `topology`: the machine's packages,
        cores and nodes, told in the title; None: not told (tests, fake samplers).
        `ends_on_signals`: SIGTERM and SIGHUP end it as `q` does (the real app's; a
        test's app leaves them to its test runner)."""
        super().__init__()
        self._settings_problems: list[str] = []  # told once the app shows
        self.settings = self._read_settings(settings_file)
        self.catalogue = catalogue or Catalogue()  # the built-in tasks, unless given more
        self.options = options or RunOptions()  # data, backend, threads: for every run
        self.store = store  # None: results live as long as the app
        self.sampler = sampler or PsutilSampler()
        self.topology = topology
        self.supervisor = supervisor or Supervisor()
        self.sample_hz = check_sample_hz(sample_hz or self.settings.sample_hz or DEFAULT_HZ)
        self.clock = clock
        self.catalog = themes or ThemeCatalog.load()
        for custom in self.catalog.themes.values():
            self.register_theme(custom)
        wanted = theme or self.settings.theme or DEFAULT_THEME
        usable = [name for name in (wanted, DEFAULT_THEME) if self.get_theme(name)]
        self.theme = usable[0] if usable else FALLBACK_THEME
        self._theme_problem = None if self.theme == wanted else wanted
        self.key_choices = self._make_keymap()
        self.available = self.sampler.budget.available
        self.chosen_task: Task = next(iter(self.catalogue.tasks.values()))
        self.workspace = Workspace()
        if store is None:  # no history to read: this session is all there is
            self.workspace.filters = Filters(history=False)
        self._shown: list[Entry] = []  # the table's rows, in order
        self._speedups: dict[int, Speedup] = {}  # of the rows, by id(entry)
        # This session's deletions, oldest first: u undoes them in turn, as each promised.
        self._deleted: list[list[Entry]] = []
        self._sweeps_run = 0  # sweeps of this app session, to tell them apart unstored
        self._advices_run = 0  # advice searches of this app session, each one series
        self._session: Session | None = None  # the run or sweep under way, or the last one
        self._stopped_runner: int | None = None  # its runner's pid, stopped with the app
        self._phase: Phase | None = None
        self._progress: Progress | None = None
        self._started_at = 0.0
        self._status_drawn_at = 0.0  # time.monotonic() of the last running-status draw
        self._status_due = False  # a phase or a first progress, for the next sample's frame
        self._skipped_told: set[str] = set()  # unreadable rows already named
        self._history_asked: HistoryQuery | None = None  # the latest read of the history
        self._quitting = False
        self.ends_on_signals = ends_on_signals
        self.signalled: int | None = None  # the signal that ended it
        self._machine_labels: dict[int, str] = {}  # of the store, as the filter dialog read them
        # The run or sweep predicted beyond the memory a run may use that the user was asked
        # about: the same one asked for again goes ahead.
        self._memory_asked: tuple | None = None
        # The advice search under way, and the batch of it that is running: the search's
        # thread waits on that future, which the batch's end (or the app's quitting) sets.
        self._advice: RunnerMeasurer | None = None
        self._batch_done: Future[Outcome] | None = None

    def get_default_screen(self) -> KeptScreen:
        screen = KeptScreen(id="_default")
        # The breakpoint classes its first Resize would give it, given before its widgets
        # are styled: Textual restyles the whole screen when a Resize changes them.
        classes = breakpoint_classes(
            self.size, self.HORIZONTAL_BREAKPOINTS, self.VERTICAL_BREAKPOINTS
        )
        screen.update_classes(classes, update=False)
        return screen

    def compose(self) -> ComposeResult:
        yield KeptHeader()
        with KeptHorizontal(id="main"):
            with KeptVertical(id="side"):
                yield OptionList(
                    *(task_option(task) for task in self.catalogue.tasks.values()),
                    id="tasks",
                    classes="panel",
                )
                with VerticalScroll(id="about", classes="panel"):
                    yield Static(id="description")
                with KeptVertical(id="controls", classes="panel"):
                    yield SplitControl(self.available, options=self.options, id="split")
                    with KeptHorizontal(id="scale-row"):
                        yield Label("scale")
                        yield RadioSet(
                            *(ChoiceButton(s, value=s == "small") for s in SCALES),
                            id="scale",
                            compact=True,
                        )
                    with KeptHorizontal(id="buttons"):
                        yield Button("Run", id="run", variant="primary", compact=True)
                        yield Button(
                            "Cancel", id="cancel", variant="error", compact=True, disabled=True
                        )
                    yield RunStatus(id="status")
            with KeptVertical(id="work"):
                affinity = self.sampler.budget.affinity
                yield CoreGrid(
                    affinity,
                    sample_hz=self.sample_hz,
                    topology=self.topology,
                    id="cores",
                    classes="panel",
                )
                yield WorkerGrid(id="workers", classes="panel")
                with KeptVertical(id="outcomes"):
                    yield ResultsTable(id="results", classes="panel")
                    physical = self.topology.smt_cores(affinity) if self.topology else None
                    yield ScalingChart(
                        self.catalogue.tasks,
                        cores=self.available,
                        physical=physical,
                        id="chart",
                        classes="panel",
                    )
        yield KeysFooter(compact=self.size.width < KeysFooter.ROOMY)

    @on(events.Ready)
    def _first_frame_drawn(self) -> None:
        release_collector()  # held while the app loaded (cpulab.startup)

    def on_load(self) -> None:
        # Before the terminal is taken (raw mode, the app's own screen): from then on a
        # signal must give it back. call_later waits for the app's messages to flow.
        if self.ends_on_signals:
            loop = asyncio.get_running_loop()
            for signum in INTERRUPTING_SIGNALS:
                loop.add_signal_handler(signum, self.call_later, self._end_by_signal, signum)

    def on_mount(self) -> None:
        logical = self.sampler.budget.logical
        self.sub_title = f"{self.available} of {logical} cores available"
        if self.topology is not None:
            self.sub_title += f" · {self.topology.summary()}"
        titles = {
            "#tasks": "Tasks",
            "#about": "About",
            "#controls": "Run",
            "#cores": "Cores",
            "#workers": "Cluster workers",
        }
        for selector, title in titles.items():
            self.query_one(selector).border_title = title
        self._title_chart()
        for problem in self.catalog.problems.values():
            self.notify(f"{problem}. Skipped.", title="Theme file", severity="warning", timeout=10)
        for problem in self.catalogue.problems:
            self.notify(problem, title="Plug-in left out", severity="warning", timeout=10)
        if self._theme_problem:
            self.notify(
                f"Theme {self._theme_problem!r} could not be used; showing {self.theme}.",
                title="Theme",
                severity="warning",
                timeout=10,
            )
        for problem in self._settings_problems:
            self.notify(problem, title="Settings", severity="warning", timeout=10)
        if self.settings.scale is not None:  # once the set has taken its first choice
            button = self.query_one("#scale", RadioSet).query(ChoiceButton)[
                SCALES.index(self.settings.scale)
            ]
            self.call_after_refresh(setattr, button, "value", True)
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        self.app_resume_signal.subscribe(self, self._resumed)
        self.watch(self.screen, "focused", self._mark_focused_panel)
        self.query_one(RunStatus).show_idle()
        self.query_one("#tasks", OptionList).highlighted = 0
        self.set_interval(1 / self.sample_hz, self._take_sample)
        self.call_later(self._take_sample)
        self.call_after_refresh(self._prepare_spare)
        self._want_history()

    @property
    def results(self) -> list[Result]:
        """The results the table and the chart show, oldest first."""
        return [entry.result for entry in self._shown]

    # The history: what the current choice of task and filters needs, read from the
    # store in a thread when that choice changes.

    def _want_history(self) -> None:
        query = self.workspace.query(self.chosen_task.name)
        if self.store is None or query is None or query == self.workspace.loaded_for:
            return
        if query != self._history_asked:  # not asked already, the answer on its way
            self._history_asked = query
            self._load_history(self.store, query)

    @work(thread=True, group="history", exclusive=True)
    def _load_history(self, store: ResultStore, query: HistoryQuery) -> None:
        try:
            if query.machine is None:
                here = machine_facts()
                machines = store.host_machine_ids(here["hostname"], here["cpu_model"])
            else:
                machines = [query.machine]
            # The batches of an advice search are sweeps of their own: one series here.
            searches = {
                sweep: f"advice {advice.id}"
                for advice in store.advice(task=query.task)
                for sweep in advice.record.get("sweeps", ())
            }
            if query.sweep is None:
                sweep_ids: list[int | None] = [None]
            elif query.sweep.isdigit():
                sweep_ids = [int(query.sweep)]
            else:  # a stored search's batches, or none: a sweep of this session not stored
                sweep_ids = [s for s, label in searches.items() if label == query.sweep]
            # Only what is shown: the store's indexes find the newest rows of this task
            # and machine (and sweep), and only those are read, however large the store.
            newest = [
                point
                for sweep_id in sweep_ids
                for point in store.points(
                    task=query.task,
                    scale=query.scale,
                    sweep_id=sweep_id,
                    machine_ids=machines,
                    newest_first=True,
                    limit=HISTORY_LIMIT,
                )
            ]
            newest = sorted(newest, key=lambda point: point.id, reverse=True)[:HISTORY_LIMIT]
        except UsageError as exc:  # damage in a store too large to check as it opened
            self.post_message(HistoryLoaded(query, [], str(store.path), [str(exc)]))
            return
        entries = [
            Entry(
                stored.result,
                point_id=stored.id,
                sweep=None
                if stored.sweep_id is None
                else searches.get(stored.sweep_id, str(stored.sweep_id)),
                this_session=False,
                created_at=stored.created_at,
                machine_id=stored.machine_id,
                batch=str(stored.sweep_id) if stored.sweep_id in searches else None,
            )
            for stored in reversed(newest)
        ]
        self.post_message(
            HistoryLoaded(query, entries, str(store.path), list(store.unreadable.values()))
        )

    def on_history_loaded(self, message: HistoryLoaded) -> None:
        for problem in message.skipped:
            if problem not in self._skipped_told:
                self._skipped_told.add(problem)
                self.notify(f"{message.source}: {problem}", title="Skipped", severity="warning")
        if message.query != self._history_asked:
            return  # the choice changed while it was read: another answer is coming
        first = self.workspace.loaded_for is None
        self.workspace.set_history(message.query, message.entries)
        self._show_results()
        if first and message.entries:
            self.notify(
                f"{len(message.entries)} earlier results of {message.query.task} on this"
                f" machine from {message.source}",
                title="Earlier sessions",
                timeout=4,
            )

    async def _take_sample(self) -> None:
        sample = await asyncio.to_thread(self.sampler.sample)
        if not self.is_running:
            return  # the app closed while the sample was taken
        self.query_one(CoreGrid).sample = sample
        due = self._status_drawn_at + STATUS_INTERVAL - 0.5 / self.sample_hz
        if self.running and (self._status_due or time.monotonic() >= due):
            # In the cores' frame: a frame renders every widget beside the path down to
            # each change, so one frame for both costs less than a frame each (1.5 ms
            # against 0.9 + 1.1 at 80x24, 1.5 against 0.8 + 1.5 at 200x60).
            self._show_running()

    # Choosing what to run.

    @on(OptionList.OptionHighlighted, "#tasks")
    def _task_highlighted(self, message: OptionList.OptionHighlighted) -> None:
        if message.option_id is not None:
            self._choose_task(message.option_id)

    def _catch_up_with_keys(self) -> None:
        """Choose what the task list and the split's fields show now. Keys read together
        (a paste, a slow link) reach a binding such as `r` before the messages that the
        keys before it posted: the Highlighted of a Down, the Changed of an Up."""
        tasks = self.query_one("#tasks", OptionList)
        if tasks.highlighted is not None:
            option_id = tasks.get_option_at_index(tasks.highlighted).id
            if option_id is not None and option_id != self.chosen_task.name:
                self._choose_task(option_id)
        self.query_one(SplitControl).check_split()

    def _choose_task(self, option_id: str) -> None:
        self.chosen_task = self.catalogue.tasks[option_id]
        about = describe_task(self.chosen_task, self.options, self.catalogue)
        self.query_one("#description", Static).update(about)
        self.query_one(SplitControl).chosen_task = self.chosen_task
        if self.workspace.filters.task is None:  # the history follows the chosen task
            self._show_results()
            self._want_history()

    @on(OptionList.OptionSelected, "#tasks")
    def _task_selected(self) -> None:
        self.query_one("#train").focus()

    @on(SplitChanged)
    def _split_changed(self) -> None:
        self._enable_buttons()

    @on(Button.Pressed, "#run")
    def _run_pressed(self) -> None:
        self.action_run()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    @property
    def scale(self) -> str:
        scales = self.query_one("#scale", RadioSet)
        # A button pressed by a key read with the next (Enter then r) is on before the set
        # has handled its Changed and let the last one go: the one just pressed is chosen.
        pressed = [
            index
            for index, button in enumerate(scales.query(ChoiceButton))
            if button.value and button is not scales.pressed_button
        ]
        return SCALES[pressed[0] if pressed else scales.pressed_index]

    # The run lifecycle. The footer's keys stay as they are while a run goes (dimming
    # them recomposes the footer: 30 ms at each start and end); a key that cannot act
    # says why.

    def action_run(self) -> None:
        if self.running or self._advice is not None:
            self._say_running()
            return
        self._catch_up_with_keys()
        control = self.query_one(SplitControl)
        if control.split is None:
            self.notify(control.problem or "choose a split", title="Cannot run", severity="error")
            return
        if not control.confirm_run():
            return  # beyond the available cores: the control asks, a second r runs it
        try:
            spec = RunSpec.for_task(
                self.chosen_task,
                control.split,
                self.scale,
                options=self.options,
                catalogue=self.catalogue.tasks,
            )
        except UsageError as exc:
            self.notify(str(exc), title="Cannot run", severity="error")
            return
        if self._memory_confirmed(spec, "Run again (r) to go ahead."):
            self._start(spec)

    def action_sweep(self) -> None:
        if self.running or self._advice is not None:
            self._say_running()
            return
        self._catch_up_with_keys()
        dialog = SweepDialog(
            self.chosen_task, self.scale, self.available, self.options, self.catalogue.tasks
        )
        self.push_screen(dialog, self._sweep_planned)

    def _sweep_planned(self, plan: SweepPlan | None) -> None:
        if plan is None or self.running or self._advice is not None:
            return
        if self._memory_confirmed(plan, "Start the same sweep again (w) to go ahead."):
            self._start(plan)

    # Advice: the search runs in a thread, and each batch it asks for is a sweep session
    # started here on the event loop, shown as any sweep is, while the thread waits.

    def action_advise(self) -> None:
        if self.running or self._advice is not None:
            self._say_running()
            return
        self._catch_up_with_keys()
        from cpulab.ui.screens.advise import AdviseDialog

        dialog = AdviseDialog(self.chosen_task, self.scale, self.available)
        self.push_screen(dialog, self._advice_asked)

    def _advice_asked(self, request: AdviceRequest | None) -> None:
        if request is None or self.running or self._advice is not None:
            return
        from cpulab.engine.advise_runs import RunnerMeasurer

        self._advices_run += 1
        self._advice = RunnerMeasurer(
            self.chosen_task,
            self.scale,
            self.options,
            self.available,
            request.budget,
            self._run_batch,
            store=self.store,
            catalogue=self.catalogue.tasks,
            on_store_problem=self._store_problem,
            new_session=self._new_session,
        )
        self._advise(request, self._advice)

    @work(thread=True, group="advise", exclusive=True, exit_on_error=False)
    def _advise(self, request: AdviceRequest, measurer: RunnerMeasurer) -> None:
        variant = measurer.options.variant
        title = f"{variant_label(measurer.task.name, variant)} ({measurer.scale})"

        def step(text: str) -> None:
            with contextlib.suppress(RuntimeError):  # the app has gone
                self.call_from_thread(self.notify, text, title="Advise", timeout=5)

        from cpulab.engine.advise_runs import run_advice

        ended, problem = None, None
        try:
            ended = run_advice(request, measurer, step)
        except UsageError as exc:
            problem = str(exc)
        except Exception as exc:  # whatever it was, the search is over: the app is not busy
            problem = f"the search failed: {type(exc).__name__}: {exc}"
        finally:
            self.post_message(AdviceEnded(title, ended, problem))

    def _run_batch(self, session: Session) -> Outcome:
        """In the search's thread: start the batch on the event loop, wait for its end (or
        for the app to go, which ends it)."""
        done: Future[Outcome] = Future()
        try:
            self.call_from_thread(self._start_batch, session, done)
        except RuntimeError:  # the app is no longer running
            return session.abort()
        while True:
            try:
                return done.result(timeout=0.5)
            except TimeoutError:
                if get_current_worker().is_cancelled or not self.is_running:
                    return session.abort()

    def _start_batch(self, session: Session, done: Future[Outcome]) -> None:
        if self._quitting or self._advice is None or self._advice.stopping:
            done.set_result(session.abort())  # stopped as it was about to start
            return
        self._batch_done = done
        self._start_session(session)

    def _return_batch(self, outcome: Outcome) -> bool:
        """Hand a batch's outcome to the search's thread; False where none is waiting. The
        run's end and the app's quitting may both get here, from two threads."""
        batch, self._batch_done = self._batch_done, None
        if batch is None:
            return False
        with contextlib.suppress(InvalidStateError):
            batch.set_result(outcome)
        return True

    def on_advice_ended(self, message: AdviceEnded) -> None:
        self._advice = None
        if self._quitting or not self.screen_stack:
            return
        ended = message.ended
        if ended is not None and ended.advice_id is not None:
            self._name_search(f"advice {ended.advice_id}")
        if ended is not None and ended.store_problem is not None:
            self.notify(f"the advice: {ended.store_problem}", title="Not saved", severity="error")
        if ended is None or ended.advice is None:
            problem = message.problem or (ended.problem if ended else None) or "no advice"
            self.notify(problem, title="No advice", severity="warning")
            return
        from cpulab.ui.screens.advise import AdviceScreen

        self.push_screen(AdviceScreen(message.title, ended.advice, ended.advice_id))

    def _name_search(self, label: str) -> None:
        """The search's entries under the name the store gave it, as the history has them."""
        running = self._search_label()
        for entry in [e for e in self.workspace.session if e.sweep == running]:
            self.workspace.replace(entry, replace(entry, sweep=label))
        self._show_results()

    def _memory_confirmed(self, request: RunSpec | SweepPlan, again: str) -> bool:
        """Whether a run or sweep may start as far as memory goes. One that the stored
        results predict to need more than the machine lets a run use asks first: the first
        call says so and returns False, the same request next time True."""
        if self.store is None:
            return True
        try:
            need = predicted_need(request, self.store, machine_limit())
        except (UsageError, sqlite3.Error):
            return True  # a store that cannot be read predicts nothing; the run says why
        asked = splits_of(request)
        if need is None or not need.over or self._memory_asked == asked:
            return True
        self._memory_asked = asked
        self.notify(f"{need.sentence()}. {again}", title="Not enough memory", severity="warning")
        return False

    def _start(self, request: RunSpec | SweepPlan) -> None:
        try:
            session = self._new_session(
                request, store=self.store, on_store_problem=self._store_problem
            )
        except UsageError as exc:
            self.notify(str(exc), title="Cannot run", severity="error")
            return
        self._start_session(session)

    def _new_session(self, request: RunSpec | SweepPlan, time_limit=None, **hooks) -> Session:
        # The spare runner, and the sampler told of the runner before Started: its
        # start-up counts too.
        return Session(
            request,
            supervisor=self.supervisor,
            on_spawn=self.sampler.watch,
            time_limit=time_limit,
            **hooks,
        )

    def _start_session(self, session: Session) -> None:
        session.listen(self._run_event)
        if session.plan is not None:
            self._sweeps_run += 1
        self._session, self._phase, self._progress = session, None, None
        self._status_due = False
        self._started_at = self.clock()
        self.running = True
        # A cluster's workers say more about a run on it than the local cores.
        cluster = self.options.backend_spec.live_panel == "workers"
        self.query_one("#work").set_class(cluster, "-cluster-live")
        if cluster:  # the last run's reading until the scheduler reports: "sampling…"
            self.query_one(WorkerGrid).sample = None
        self._show_running()
        if self.one_view_at_a_time and not self.query_one("#main").has_class("-view-chart"):
            self._show_view("results")  # the cores at work, and where the result will land
        self._run(session)

    @work(group="spare")
    async def _prepare_spare(self) -> None:
        """Have the next run's runner import scikit-learn now, while nobody waits for it.

        Not with --blas-threads: the thread limits must be in the environment before the
        BLAS and OpenMP libraries load, and a spare would load them first."""
        if self.running or self.options.blas_threads is not None:
            return
        try:
            await self.supervisor.prepare()
        except OSError:
            return  # a run starts its own runner, and reports why it cannot
        if not self.running and self.is_running:
            self.sampler.count_as_own(self.supervisor.spare_pid)

    def _run_event(self, event: Event) -> None:
        # On the event loop, in the run's order. A phase, and the first progress of each,
        # are drawn with the next sample's cores, in one frame; the progress after them
        # waits for the status's redraw once a second. A frame and a message each cost
        # more than all else an event does, and a short call holds only a few samples.
        if isinstance(event, Phase):
            self._phase, self._progress = event, None
        elif isinstance(event, Progress):
            first, self._progress = self._progress is None, event
            if not first:
                return
        else:
            if not isinstance(event, Started):  # its start is on screen since the key
                self.post_message(RunEvent(event, self._phase))
            return
        if 1 / self.sample_hz > PHASE_WAIT:
            self.call_later(self._show_running)  # samples too far apart to wait for
        else:
            self._status_due = True

    def _store_problem(self, text: str) -> None:
        self.post_message(StoreProblem(text))  # from the thread that wrote

    @work(group="run", exclusive=True)
    async def _run(self, session: Session) -> None:
        self.post_message(RunEnded(await session.run()))

    def _say_running(self) -> None:
        self.notify("A run is going: c cancels it.", timeout=3)

    def action_cancel(self) -> None:
        if self._advice is not None:
            self._advice.stop()  # no batch after this one; this one, as any run
            if not self.running:
                return
        if self.running and self._session is not None:
            # A worker, so the grace period before SIGKILL never blocks the UI.
            self.run_worker(self._session.cancel(), group="cancel")
        else:
            self.notify("Nothing is running.", timeout=3)

    def stop_run_now(self, status: str = "cancelled", signum: int | None = None) -> None:
        """Kill the running tree and record how its sweep ended before returning: for
        quitting ("cancelled") or a signal `signum` ("interrupted"), when nothing may
        linger. Not on the event loop: it writes to the store."""
        if self._advice is not None:
            self._advice.stop(status, signum)
        session = self._session
        if session is not None:
            # An advice search's thread may wait on it.
            self._return_batch(session.abort(status, signum))
        self.sampler.count_as_own(None)
        self.supervisor.discard_spare()

    def on_unmount(self) -> None:
        self.supervisor.discard_spare()  # however the app ends
        if self._advice is not None:  # ended some other way than quitting: no thread waits
            self._advice.stop()
            if self._batch_done is not None and self._session is not None:
                self._return_batch(self._session.abort())

    def action_suspend_process(self) -> None:
        """Ctrl-Z. As with the command line, the run's whole tree stops with the app and
        goes on when the shell continues it (fg): its runner lives in a session of its
        own, which the terminal's stop never reaches."""
        driver = self._driver
        if self.running and self._session is not None and driver is not None and driver.can_suspend:
            self._stopped_runner = self._session.stop_runner()
        super().action_suspend_process()

    def _resumed(self, app: App) -> None:
        if self._stopped_runner is not None:
            continue_runner(self._stopped_runner)
            self._stopped_runner = None
        # The terminal was the shell's meanwhile: draw it all again, as App.suspend does
        # (Textual's own Ctrl-Z leaves it to what changes next).
        self.refresh(layout=True)

    async def action_quit(self) -> None:
        await self._quit()

    async def _end_by_signal(self, signum: int) -> None:
        """SIGTERM or SIGHUP (a logout, a closed terminal): quit as `q` does, the run
        recorded as interrupted by it, and the terminal given back as it was. A closed
        terminal may take no more of the app's last frames, and Textual then waits for
        it for good: past EXIT_GRACE, with the run already ended and recorded, the
        process exits as it is."""
        if self._quitting:
            return  # quitting already (q, or the other signal): the run is being ended
        self.signalled = signum
        await self._quit("interrupted", signum)
        watchdog = threading.Timer(EXIT_GRACE, os._exit, (128 + signum,))
        watchdog.daemon = True
        watchdog.start()

    async def _quit(self, status: str = "cancelled", signum: int | None = None) -> None:
        self._quitting = True  # a sweep it stops ends with no summary to show
        await asyncio.to_thread(self.stop_run_now, status, signum)
        self.exit()

    def on_run_event(self, message: RunEvent) -> None:
        event = message.event
        try:
            status = self.query_one(RunStatus)
        except NoMatches:
            return  # the app is closing: the run's last events find its widgets gone
        if isinstance(event, WorkerLoad):
            self.query_one(WorkerGrid).show(event)
        elif isinstance(event, Result):
            if event.partial:  # a point's earlier runs: stored, shown once it is done
                return
            entry = self._session_entry(event)
            self.workspace.add(entry)
            self._show_results()
            gain = self._speedups.get(id(entry))
            status.show_result(event, None if gain is None else gain.value)
            if self._phase is not message.phase:  # a sweep's next point, drawn already
                self._show_running()
        elif isinstance(event, Error):
            spec = self._point_running()
            status.show_error(event, spec)
            failed = "The run failed" if spec is None else f"{spec.label} failed"
            self.notify(event.one_line(), title=failed, severity="error", timeout=10)
        elif isinstance(event, Cancelled):
            status.show_cancelled(event)

    def on_store_problem(self, message: StoreProblem) -> None:
        self.notify(message.text, title="Not saved", severity="error", timeout=10)

    def on_run_ended(self, message: RunEnded) -> None:
        if not self.screen_stack:
            return  # the app is closing
        if message.outcome.partial:  # cut short: what it measured is kept, and shown so
            for result in message.outcome.partial:
                self.workspace.add(self._session_entry(result))
        if message.outcome.partial or self._note_stored_late(message.outcome):
            self._show_results()
        if problems := message.outcome.store_problems:  # said as they came; kept in sight
            self.query_one(RunStatus).show_not_saved(problems[0].removesuffix(AGAIN))
        self.query_one("#work").remove_class("-cluster-live")
        self.sampler.watch(None)
        self.running = False
        self._prepare_spare()
        session = self._session
        if self._return_batch(message.outcome):  # a batch of an advice search: it goes on
            return
        summary = message.outcome.status != "refused" and not self._quitting
        if session is not None and session.plan is not None and summary:
            # What `cpulab sweep` prints at its end, from the same engine code.
            memory = self._memory_model(session.plan)
            self.push_screen(SweepSummary.of(session.plan, message.outcome, memory))

    def _memory_model(self, plan: SweepPlan) -> MemoryModel | None:
        """What the stored runs of a sweep's task need in memory, its own included."""
        if self.store is None:
            return None
        task, variant = plan.task.name, plan.options.variant
        try:
            return model_for(self.store, task, plan.scale, variant)
        except (UsageError, sqlite3.Error):
            return None  # a store that cannot be read tells nothing: no memory line

    def _session_entry(self, result: Result) -> Entry:
        session = self._session
        return Entry(
            result,
            point_id=session.point_id(result) if session is not None else None,
            sweep=self._sweep_label(),
            created_at=time.time(),
            batch=self._batch(),
        )

    def _sweep_label(self) -> str | None:
        """The series the session's results are entries of: an advice search, else its
        own sweep (see `_own_sweep`); None for a single run."""
        if self._batch_done is not None:  # an advice search's batches make one series
            return self._search_label()
        return self._own_sweep()

    def _search_label(self) -> str:
        """The series of this session's advice search until the store names it: not
        "advice N", which is stored advice #N's, loaded from the history."""
        return f"advice app {self._advices_run}"

    def _batch(self) -> str | None:
        """The sweep of the advice search's batch running; None outside a search."""
        return self._own_sweep() if self._batch_done is not None else None

    def _own_sweep(self) -> str | None:
        """The session's sweep: its stored id, or "app N" for one the store does not have
        (yet); None for a single run."""
        session = self._session
        if session is None or session.plan is None:
            return None
        stored = session.sweep_id
        return str(stored) if stored is not None else f"app {self._sweeps_run}"

    def _note_stored_late(self, outcome: Outcome) -> bool:
        """Results the store took only at the session's end (another process held it locked
        as they came) get the row and sweep they are stored as: `d` then finds them, and a
        reload of the history does not show them twice. Whether any did."""
        session, ended = self._session, {id(r) for r in (*outcome.results, *outcome.partial)}
        if session is None:
            return False
        late = [
            entry
            for entry in self.workspace.session
            if entry.point_id is None and id(entry.result) in ended
            and session.point_id(entry.result) is not None
        ]  # fmt: skip
        for entry in late:
            stored = replace(
                entry,
                point_id=session.point_id(entry.result),
                sweep=self._sweep_label(),
                batch=self._batch(),
            )
            self.workspace.replace(entry, stored)
        return bool(late)

    def _show_results(self, cursor: int | None = None) -> None:
        """The table and chart anew; the table's cursor on row `cursor` (None: the newest)."""
        self._shown = self.workspace.shown(self.chosen_task.name)
        # Against the hidden results too: hiding a sweep's 1 x 1 hides a row, not the
        # baseline of its other points.
        self._speedups = speedups(self.workspace.admitted(self.chosen_task.name))
        self.query_one(ResultsTable).show(self._shown, self._speedups, cursor)
        chart = self.query_one(ScalingChart)
        chart.hidden = self.workspace.hidden_here(self.chosen_task.name)
        chart.results = tuple(self._shown)
        self._title_chart()

    def _point_running(self) -> RunSpec | None:
        """The point of the session that the latest phase is of; None with no session."""
        if self._session is None:
            return None
        return self._session.points[(self._phase.point if self._phase else None) or 0]

    def _show_running(self) -> None:
        """The running status: the latest phase and its progress."""
        # Once the final event is shown, a sample taken before the run's end reaches the
        # app must not put "running" back.
        if self._session is None or self._session.ended:
            return
        try:
            status = self.query_one(RunStatus)
        except NoMatches:
            return  # the app is closing
        phase, progress = self._phase, self._progress
        points = self._session.points
        index = (phase.point if phase else None) or 0
        elapsed = self.clock() - self._started_at
        sweep = (index + 1, len(points)) if len(points) > 1 else None
        status.show_running(points[index], phase, progress, elapsed, sweep)
        self._status_drawn_at, self._status_due = time.monotonic(), False

    def watch_running(self) -> None:
        self._enable_buttons()

    def _enable_buttons(self) -> None:
        try:
            control = self.query_one(SplitControl)
        except NoMatches:
            return  # the app is closing: a late SplitChanged finds its widgets gone
        self.query_one("#run", Button).disabled = self.running or control.split is None
        self.query_one("#cancel", Button).disabled = not self.running

    # Views.

    def action_toggle_speedup(self) -> None:
        chart = self.query_one(ScalingChart)
        chart.speedup = not chart.speedup
        self._title_chart()

    def _title_chart(self) -> None:
        """The chart's title says what it shows; the table's, what filters keep out (at
        narrow sizes the chart is in another view)."""
        chart = self.query_one(ScalingChart)
        what = "Speedup over 1 x 1" if chart.speedup else "Fit time"
        machine = self._machine_labels.get(self.workspace.filters.machine or 0)
        chart.border_title = f"{what} · {self.workspace.describe(self.chosen_task.name, machine)}"
        task = self.workspace.filters.task  # another task's results than the list's
        narrowing = ", ".join(
            [*([task] if task else []), *self.workspace.narrowing(self.chosen_task.name, machine)]
        )
        self.query_one("#results").border_title = "Results" + (
            f" · {narrowing}" if narrowing else ""
        )

    # The workspace: what is shown, hidden, deleted.

    def _selected(self) -> Entry | None:
        table = self.query_one(ResultsTable)
        row = table.cursor_row
        return self._shown[row] if self._shown and 0 <= row < len(self._shown) else None

    @on(ResultsTable.RowSelected)
    def _row_chosen(self) -> None:
        entry = self._selected()
        if entry is not None:
            self.push_screen(ResultDetails(entry, self._speedups.get(id(entry))))

    def action_timeline(self) -> None:
        """The selected result's timeline: its cores and tasks over time."""
        entry = self._selected()
        if entry is None:
            self.notify("No result is selected.", timeout=3)
            return
        self.push_screen(TimelineScreen(entry.result, entry.point_id))

    def action_core_history(self) -> None:
        """The cores as they are now, or each core's last minute as a heat strip."""
        grid = self.query_one(CoreGrid)
        grid.history = not grid.history
        grid.border_title = "Cores, the last minute" if grid.history else "Cores"

    def action_filters(self) -> None:
        seen = [*self.workspace.history, *self.workspace.session]
        sweeps = {
            e.sweep: (e.result.task, f"sweep {e.sweep}: {e.result.task}") for e in seen if e.sweep
        }
        machines = {}
        if self.store is not None:
            machines = self._machine_labels = {m.id: m.label for m in self.store.machines()}
            for record in self.store.newest_sweeps(RECENT_SWEEPS):
                sweeps[str(record.id)] = (
                    record.task,
                    f"sweep {record.id}: {record.task} ({record.scale}), {record.strategy},"
                    f" {record.status}",
                )
        dialog = FilterDialog(
            self.workspace.filters,
            chosen_task=self.chosen_task.name,
            tasks=sorted(self.catalogue.tasks),
            variants=sorted({e.result.variant for e in seen}),
            sweeps=dict(sorted(sweeps.items(), key=lambda item: _sweep_order(item[0]))),
            machines=machines,
            hidden=len(self.workspace.hidden),
        )
        self.push_screen(dialog, self._filters_chosen)

    def _filters_chosen(self, choice: tuple[Filters, bool] | None) -> None:
        if choice is None:
            return
        filters, show_hidden = choice
        self.workspace.filters = filters if self.store else replace(filters, history=False)
        if show_hidden:
            self.workspace.show_hidden()
        self._show_results()
        self._want_history()

    def action_hide(self) -> None:
        entry = self._selected()
        if entry is None:
            self.notify("No result is selected.", timeout=3)
            return
        self.workspace.hide([entry])
        self._show_results(cursor=self.query_one(ResultsTable).cursor_row)  # the next row
        r, stored = entry.result, f" (point {entry.point_id})" if entry.point_id else ""
        # Named: from the palette the table may not be on screen to show which it was.
        self.notify(
            f"Hidden {r.task} {r.train} x {r.eval}{stored}: f shows hidden results again.",
            timeout=3,
        )

    def action_clear_session(self) -> None:
        count = self.workspace.clear_session()
        self._show_results()
        self.notify(
            f"Cleared {counted(count, 'result')} of this session from view; "
            f"{'they stay' if count != 1 else 'it stays'} in the store."
            if count
            else "This session has no results on view.",
            timeout=4,
        )

    def action_delete(self) -> None:
        entry = self._selected()
        if entry is None:
            self.notify("No result is selected.", timeout=3)
            return
        if entry.point_id is None or self.store is None:
            self.notify("This result is not stored: h hides it.", timeout=4)
            return
        r = entry.result
        question = (
            f"Delete {r.task} {r.train} x {r.eval} (point {entry.point_id}) from the store?"
            " u undoes it."
        )
        self.push_screen(Confirm(question, "Delete"), self._delete_confirmed([entry]))

    def _delete_confirmed(self, entries: list[Entry]) -> Callable[[bool | None], None]:
        def answered(yes: bool | None) -> None:
            if yes:
                self._delete(entries)

        return answered

    @work(group="store-edit")
    async def _delete(self, entries: list[Entry]) -> None:
        ids = [e.point_id for e in entries if e.point_id is not None]
        if await self._edit_store(ResultStore.delete_points, ids, "Not deleted"):
            self.workspace.forget(ids)
            self._deleted.append(entries)
            self._show_results(cursor=self.query_one(ResultsTable).cursor_row)
            self.notify(f"Deleted point {', '.join(map(str, ids))}: u undoes it.", timeout=5)

    @work(group="store-edit")
    async def action_undo_delete(self) -> None:
        if not self._deleted or self.store is None:
            self.notify("Nothing deleted to undo.", timeout=3)
            return
        entries = self._deleted.pop()  # now: a second u meanwhile takes the one before
        ids = [e.point_id for e in entries if e.point_id is not None]
        if await self._edit_store(ResultStore.restore_points, ids, "Not restored"):
            self.workspace.restore(entries)
            self._show_results()
            self.notify(f"Restored point {', '.join(map(str, ids))}.", timeout=3)
        else:
            self._deleted.append(entries)  # still deleted: u may try it again

    async def _edit_store(
        self, edit: Callable[[ResultStore, list[int]], int], ids: list[int], failed: str
    ) -> bool:
        """`edit` the store's points of these ids off the event loop; a store that cannot
        be written says why, under the title `failed`."""
        store = self.store
        assert store is not None
        try:
            await asyncio.to_thread(edit, store, ids)
        except (OSError, sqlite3.Error) as exc:
            self.notify(f"{store.path}: {exc}", title=failed, severity="error")
            return False
        return True

    def _mark_focused_panel(self, blurred: Widget | None, focused: Widget | None) -> None:
        """The panel the focus is inside gets -holds-focus, and only it is restyled. With
        :focus-within Textual restyles every widget inside the panel at each move of the
        focus into, out of or within it: the Run panel's 18 as each run starts at 80x24
        (11 ms), and at each Tab from one of its fields to the next. A panel that takes
        the focus itself shows it by :focus, restyled by Textual as it gains or loses it:
        marking it too would restyle it twice."""
        # Where the focus moves within one panel, True (put in last) is what it keeps.
        holds = {self._panel_around(blurred): False, self._panel_around(focused): True}
        changed = [
            panel
            for panel, held in holds.items()
            if panel is not None and panel.has_class("-holds-focus") != held
        ]
        for panel in changed:
            panel.set_class(holds[panel], "-holds-focus", update=False)
        if changed:
            self.stylesheet.update_nodes(changed, animate=True)

    def _panel_around(self, widget: Widget | None) -> Widget | None:
        """The panel that holds `widget`, not being it."""
        node: DOMNode | None = widget.parent if widget is not None else None
        while isinstance(node, Widget):
            if node.has_class("panel"):
                return node
            node = node.parent
        return None

    def action_switch_view(self) -> None:
        """The next of the VIEWS: shown alone where the panels do not all fit, focused."""
        try:
            main = self.query_one("#main")
        except NoMatches:
            return  # a dialog is open
        shown = next((v for v in self.VIEWS if main.has_class(f"-view-{v}")), self.VIEWS[0])
        self._show_view(self.VIEWS[(self.VIEWS.index(shown) + 1) % len(self.VIEWS)])

    def _show_view(self, view: str) -> None:
        # Restyling only what app.tcss's rules about the views select: half of #main.
        classes = {f"-view-{v}": v == view for v in self.VIEWS}
        update_classes_restyling_selected(self.query_one("#main"), classes)
        focus = {"setup": "#tasks", "results": "#results"}.get(view)
        if focus is None:
            self.screen.set_focus(None)  # the chart takes no keys
        else:
            self.query_one(focus).focus()

    @property
    def one_view_at_a_time(self) -> bool:
        """Whether the screen is too small for every panel at once (see app.tcss)."""
        screen = self.screen_stack[0] if self.screen_stack else self.screen
        return screen.has_class("-narrow") or not screen.has_class("-tall")

    def action_pick_theme(self) -> None:
        """Each theme previewed as the highlight reaches it; Escape puts this one back."""
        self.push_screen(
            ThemePicker(self.catalog.names(), self.theme),
            lambda _: self._theme_changed(self.current_theme),  # kept once it is chosen
        )

    # Settings, keys and screenshots.

    def _read_settings(self, path: Path | None) -> Settings:
        if path is None:
            return Settings()
        try:
            settings = load_settings(path)
        except UsageError as exc:  # told once the app shows; the app starts regardless
            self._settings_problems.append(f"{exc}. Using the defaults.")
            return Settings(path)
        self._settings_problems.extend(settings.warnings())
        return settings

    def _make_keymap(self) -> Keymap:
        """The settings' [keys] made the app's keymap; one that cannot be used, left out."""
        try:
            keymap = make_keymap(self.settings.keys, self.BINDINGS)
        except UsageError as exc:
            self._settings_problems.append(f"{exc}. The keys stay as they were.")
            keymap = make_keymap({}, self.BINDINGS)
        self._settings_problems.extend(keymap.problems)
        self.set_keymap(keymap.overrides)
        self._kept_theme = self.theme  # what the next start has already
        return keymap

    def _theme_changed(self, theme: Theme) -> None:
        """Keep the theme for the next start, however it changed (t, the palette)."""
        path = self.settings.path
        if path is None or theme.name == self._kept_theme or isinstance(self.screen, ThemePicker):
            return  # nothing to keep, or a preview: the picker's choice is kept as it closes
        try:
            save_setting(path, "theme", theme.name)
        except (OSError, UsageError) as exc:
            self.notify(
                f"Not kept for the next start: {_reason(exc)}", title="Theme", severity="warning"
            )
            return
        self._kept_theme = theme.name

    def action_help(self) -> None:
        path = self.settings.path
        self.push_screen(HelpScreen(self._key_help(), None if path is None else str(path)))

    def _key_help(self) -> list[KeyHelp]:
        def shown(keys: str) -> str:
            return ", ".join(
                self.get_key_display(Binding(key.strip(), "")) for key in keys.split(",")
            )

        rows = [
            KeyHelp(
                shown(choice.keys),
                choice.binding.description,
                choice.binding.id or "",
                choice.override,
                None if choice.override is None else shown(choice.binding.key),
            )
            for choice in self.key_choices.choices
        ]
        return [
            *rows,
            KeyHelp("^p", "Command palette: every action, each task, exports, screenshot"),
            KeyHelp("tab, shift+tab", "The next, the previous panel"),
            KeyHelp("enter", "Choose the highlighted task; a result's details"),
            KeyHelp("^q", "Quit"),
        ]

    def deliver_screenshot(
        self,
        filename: str | None = None,
        path: str | None = None,
        time_format: str | None = None,
    ) -> str | None:
        """Save the screen as SVG where the user finds it: `path`, else the settings'
        screenshot_dir, else the current directory, made where missing; say where, or why
        not. (Textual saves to a Downloads folder, which servers seldom have.) The command
        palette's Screenshot comes here too."""
        if self.is_web:  # served to a browser: the browser downloads it
            return super().deliver_screenshot(filename, path, time_format)
        folder = Path(path).expanduser() if path else self.settings.screenshot_dir or Path()
        stamp = datetime.now().strftime(time_format or "%Y-%m-%d_%H-%M-%S_%f")
        target = (folder / (filename or f"{self.title}_{stamp}.svg")).absolute()
        try:
            svg = self.export_screenshot()
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(svg, encoding="utf-8")
        except OSError as exc:
            self.notify(
                f"{target}: {_reason(exc)}",
                title="Screenshot not saved",
                severity="error",
                timeout=10,
            )
            return None
        self.notify(str(target), title="Screenshot saved", timeout=8)
        return None


def _reason(exc: Exception) -> str:
    """An error in words, without Python's [Errno N] prefix."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    return str(exc)


def _sweep_order(sweep: str) -> tuple[int, str]:
    return (int(sweep), "") if sweep.isdigit() else (1 << 62, sweep)


def run_app(
    theme: str | None = None,
    sample_hz: float | None = None,
    store: ResultStore | None = None,
    catalogue: Catalogue | None = None,
    options: RunOptions | None = None,
    settings_file: Path | None = None,
) -> int:
    app = CpulabApp(
        theme=theme,
        sample_hz=sample_hz,
        store=store,
        catalogue=catalogue,
        options=options,
        settings_file=settings_file,
        topology=machine_topology(),
        ends_on_signals=True,
    )
    try:
        app.run()
    finally:
        app.stop_run_now()  # also when the app itself crashed
    if app.signalled is not None:
        raise Interrupted(app.signalled)  # told, with its exit status, as by the commands
    return app.return_code or 0
