"""The cpulab app: choose a task and a core split, run it, watch every core, compare.

Each run or sweep is an engine `Session` (the same the CLI uses): it starts the child
process through the Supervisor, stores every result off the UI thread and records how a
sweep ended; a worker hands its events to the app as messages. Sampling runs in a thread
at `sample_hz`. Both edges are constructor parameters, so tests drive the app with fakes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.reactive import reactive
from textual.widgets import (
    Button,
    Footer,
    Header,
    Label,
    OptionList,
    RadioSet,
    Static,
)
from textual.widgets.option_list import Option

from cpulab.engine.errors import UsageError
from cpulab.engine.events import Cancelled, Error, Event, Phase, Progress, Result, WorkerLoad
from cpulab.engine.machine import machine_facts
from cpulab.engine.plugins import Catalogue
from cpulab.engine.session import Session
from cpulab.engine.spec import RunOptions, RunSpec
from cpulab.engine.store import ResultStore
from cpulab.engine.supervisor import Supervisor
from cpulab.engine.sweep import SweepPlan
from cpulab.engine.tasks import KNOB_TITLES, SCALES, Task
from cpulab.monitor.sampler import DEFAULT_HZ, PsutilSampler, Sampler, check_sample_hz
from cpulab.ui.messages import HistoryLoaded, RunEnded, RunEvent, SplitChanged, StoreProblem
from cpulab.ui.scaling import speedup
from cpulab.ui.screens.sweep_dialog import SweepDialog
from cpulab.ui.themes import DEFAULT_THEME, ThemeCatalog
from cpulab.ui.widgets import (
    ChoiceButton,
    CoreGrid,
    ResultsTable,
    RunStatus,
    ScalingChart,
    SplitControl,
    WorkerGrid,
)

FALLBACK_THEME = "textual-dark"  # should the shipped themes be missing
HISTORY_LIMIT = 200  # earlier results shown at start: the newest of this machine
# Seconds between redraws of a running status (its elapsed time is in whole seconds):
# each redraw is a frame of its own, which costs as much as the cores' frame.
STATUS_INTERVAL = 1.0


def describe_task(task: Task, options: RunOptions, catalogue: Catalogue) -> Text:
    knobs = " and ".join(KNOB_TITLES[k] for k in sorted(task.knobs, reverse=True))
    text = Text(task.title, style="bold")
    text.append(f"\n{task.description}\n")
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


def task_option(task: Task) -> Option:
    prompt = Text(f"{task.name:<20}", style="bold")  # the longest name and a space
    prompt.append(task.title, style="italic")
    return Option(prompt, id=task.name)


class CpulabApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "cpulab"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-medium"), (150, "-wide")]
    BINDINGS = [
        Binding("r", "run", "Run"),
        Binding("w", "sweep", "Sweep"),
        Binding("c", "cancel", "Cancel"),
        Binding("s", "toggle_speedup", "Time/speedup"),
        Binding("t", "cycle_theme", "Theme"),
        Binding("q", "quit", "Quit"),
    ]

    running: reactive[bool] = reactive(False, init=False)

    def __init__(
        self,
        sampler: Sampler | None = None,
        supervisor: Supervisor | None = None,
        theme: str | None = None,
        sample_hz: float = DEFAULT_HZ,
        clock: Callable[[], float] = time.monotonic,
        themes: ThemeCatalog | None = None,
        store: ResultStore | None = None,
        catalogue: Catalogue | None = None,
        options: RunOptions | None = None,
    ) -> None:
        super().__init__()
        self.catalogue = catalogue or Catalogue()  # the built-in tasks, unless given more
        self.options = options or RunOptions()  # data, backend, threads: for every run
        self.store = store  # None: results live as long as the app
        self.sampler = sampler or PsutilSampler()
        self.supervisor = supervisor or Supervisor()
        self.sample_hz = check_sample_hz(sample_hz)
        self.clock = clock
        self.catalog = themes or ThemeCatalog.load()
        for custom in self.catalog.themes.values():
            self.register_theme(custom)
        wanted = theme or DEFAULT_THEME
        usable = [name for name in (wanted, DEFAULT_THEME) if self.get_theme(name)]
        self.theme = usable[0] if usable else FALLBACK_THEME
        self._theme_problem = None if self.theme == wanted else wanted
        self.available = self.sampler.budget.available
        self.chosen_task: Task = next(iter(self.catalogue.tasks.values()))
        self.results: list[Result] = []
        self._session: Session | None = None  # the run or sweep under way, or the last one
        self._phase: Phase | None = None
        self._progress: Progress | None = None
        self._started_at = 0.0
        self._status_drawn_at = 0.0  # time.monotonic() of the last running-status draw

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="main"):
            with Vertical(id="side"):
                yield OptionList(
                    *(task_option(task) for task in self.catalogue.tasks.values()), id="tasks"
                )
                with VerticalScroll(id="about"):
                    yield Static(id="description")
                with Vertical(id="controls"):
                    yield SplitControl(self.available, options=self.options, id="split")
                    with Horizontal(id="scale-row"):
                        yield Label("scale")
                        yield RadioSet(
                            *(ChoiceButton(s, value=s == "small") for s in SCALES),
                            id="scale",
                            compact=True,
                        )
                    with Horizontal(id="buttons"):
                        yield Button("Run", id="run", variant="primary", compact=True)
                        yield Button(
                            "Cancel", id="cancel", variant="error", compact=True, disabled=True
                        )
                    yield RunStatus(id="status")
            with Vertical(id="work"):
                yield CoreGrid(self.sampler.budget.affinity, id="cores")
                yield WorkerGrid(id="workers")
                with Vertical(id="outcomes"):
                    yield ResultsTable(id="results", cursor_type="row")
                    yield ScalingChart(self.catalogue.tasks, id="chart")
        yield Footer()

    def on_mount(self) -> None:
        logical = self.sampler.budget.logical
        self.sub_title = f"{self.available} of {logical} cores available"
        titles = {
            "#tasks": "Tasks",
            "#about": "About",
            "#controls": "Run",
            "#cores": "Cores",
            "#workers": "Cluster workers",
            "#results": "Results",
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
        self.query_one(RunStatus).show_idle()
        self.query_one("#tasks", OptionList).highlighted = 0
        self.set_interval(1 / self.sample_hz, self._take_sample)
        self.call_later(self._take_sample)
        self.call_after_refresh(self._prepare_spare)
        if self.store is not None:
            self._load_history(self.store)

    @work(thread=True, group="history")
    def _load_history(self, store: ResultStore) -> None:
        here = machine_facts()
        try:
            # Only what the table shows: the store's indexes find this machine's newest
            # rows, and only those are read, however large the store.
            newest = store.points(
                machine_ids=store.host_machine_ids(here["hostname"], here["cpu_model"]),
                newest_first=True,
                limit=HISTORY_LIMIT,
            )
        except UsageError as exc:  # damage in a store too large to check as it opened
            self.post_message(HistoryLoaded([], str(store.path), [str(exc)]))
            return
        mine = [stored.result for stored in reversed(newest)]
        skipped = list(store.unreadable.values())
        if mine or skipped:
            self.post_message(HistoryLoaded(mine, str(store.path), skipped))

    def on_history_loaded(self, message: HistoryLoaded) -> None:
        for problem in message.skipped:
            self.notify(f"{message.source}: {problem}", title="Skipped", severity="warning")
        if not message.results:
            return
        self.results[:0] = message.results
        self._show_results()
        self.notify(
            f"{len(message.results)} results of this machine from {message.source}",
            title="Earlier sessions",
            timeout=4,
        )

    async def _take_sample(self) -> None:
        sample = await asyncio.to_thread(self.sampler.sample)
        if not self.is_running:
            return  # the app closed while the sample was taken
        self.query_one(CoreGrid).sample = sample
        due = self._status_drawn_at + STATUS_INTERVAL - 0.5 / self.sample_hz
        if self.running and time.monotonic() >= due:
            # In the frame after the cores: Textual renders every widget inside the box
            # around all that changed in one frame, which for the cores (top right) and
            # the status (bottom left) together is the whole screen.
            self.call_after_refresh(self._show_running)

    # Choosing what to run.

    @on(OptionList.OptionHighlighted, "#tasks")
    def _task_highlighted(self, message: OptionList.OptionHighlighted) -> None:
        if message.option_id is None:
            return
        self.chosen_task = self.catalogue.tasks[message.option_id]
        about = describe_task(self.chosen_task, self.options, self.catalogue)
        self.query_one("#description", Static).update(about)
        self.query_one(SplitControl).chosen_task = self.chosen_task

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
        return SCALES[self.query_one("#scale", RadioSet).pressed_index]

    # The run lifecycle. The footer's keys stay as they are while a run goes (dimming
    # them recomposes the footer: 30 ms at each start and end); a key that cannot act
    # says why.

    def action_run(self) -> None:
        if self.running:
            self._say_running()
            return
        control = self.query_one(SplitControl)
        if control.split is None:
            self.notify(control.problem or "choose a split", title="Cannot run", severity="error")
            return
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
        self._start(spec)

    def action_sweep(self) -> None:
        if self.running:
            self._say_running()
            return
        dialog = SweepDialog(
            self.chosen_task, self.scale, self.available, self.options, self.catalogue.tasks
        )
        self.push_screen(dialog, self._sweep_planned)

    def _sweep_planned(self, plan: SweepPlan | None) -> None:
        if plan is not None and not self.running:
            self._start(plan)

    def _start(self, request: RunSpec | SweepPlan) -> None:
        try:
            session = Session(
                request,
                store=self.store,
                supervisor=self.supervisor,
                on_spawn=self.sampler.watch,  # before Started: its start-up counts too
                on_store_problem=self._store_problem,
            )
        except UsageError as exc:
            self.notify(str(exc), title="Cannot run", severity="error")
            return
        session.listen(self._run_event)
        self._session, self._phase, self._progress = session, None, None
        self._started_at = self.clock()
        self.running = True
        # A cluster's workers say more about a run on it than the local cores.
        cluster = self.options.backend_spec.live_panel == "workers"
        self.query_one("#work").set_class(cluster, "-cluster-live")
        self._show_running()
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
        self.post_message(RunEvent(event))

    def _store_problem(self, text: str) -> None:
        self.post_message(StoreProblem(text))  # from the thread that wrote

    @work(group="run", exclusive=True)
    async def _run(self, session: Session) -> None:
        self.post_message(RunEnded(await session.run()))

    def _say_running(self) -> None:
        self.notify("A run is going: c cancels it.", timeout=3)

    def action_cancel(self) -> None:
        if self.running and self._session is not None:
            # A worker, so the grace period before SIGKILL never blocks the UI.
            self.run_worker(self._session.cancel(), group="cancel")
        else:
            self.notify("Nothing is running.", timeout=3)

    def stop_run_now(self) -> None:
        """Kill the running tree and record how its sweep ended before returning: for
        quitting, when nothing may linger. Not on the event loop: it writes to the store."""
        session = self._session
        if session is not None:
            session.abort()
        self.sampler.count_as_own(None)
        self.supervisor.discard_spare()

    def on_unmount(self) -> None:
        self.supervisor.discard_spare()  # however the app ends

    async def action_quit(self) -> None:
        await asyncio.to_thread(self.stop_run_now)
        self.exit()

    def on_run_event(self, message: RunEvent) -> None:
        event = message.event
        try:
            status = self.query_one(RunStatus)
        except NoMatches:
            return  # the app is closing: the run's last events find its widgets gone
        if isinstance(event, Phase):
            self._phase, self._progress = event, None
        elif isinstance(event, Progress):
            first, self._progress = self._progress is None, event
            if not first:
                return  # the first of a phase shows at once, the rest with the elapsed time
        elif isinstance(event, WorkerLoad):
            self.query_one(WorkerGrid).show(event)
            return
        elif isinstance(event, Result):
            if event.partial:  # a point's earlier runs: stored, shown once it is done
                return
            self.results.append(event)
            self._show_results()
            status.show_result(event, speedup(event, self.results))
        elif isinstance(event, Error):
            status.show_error(event)
            self.notify(event.one_line(), title="The run failed", severity="error", timeout=10)
        elif isinstance(event, Cancelled):
            status.show_cancelled(event)
        if self.running and not isinstance(event, Result | Error | Cancelled):
            self._show_running()

    def on_store_problem(self, message: StoreProblem) -> None:
        self.notify(message.text, title="Not saved", severity="error")

    def on_run_ended(self, message: RunEnded) -> None:
        if not self.screen_stack:
            return  # the app is closing
        if message.outcome.partial:  # cut short: what it measured is kept, and shown so
            self.results.extend(message.outcome.partial)
            self._show_results()
        self.query_one("#work").remove_class("-cluster-live")
        self.sampler.watch(None)
        self.running = False
        self._prepare_spare()

    def _show_results(self) -> None:
        self.query_one(ResultsTable).show(self.results)
        self.query_one(ScalingChart).results = tuple(self.results)

    def _show_running(self) -> None:
        # Once the final event is shown, a sample taken before the run's end reaches the
        # app must not put "running" back.
        if self._session is None or self._session.ended:
            return
        points = self._session.points
        index = (self._phase.point if self._phase else None) or 0
        elapsed = self.clock() - self._started_at
        sweep = (index + 1, len(points)) if len(points) > 1 else None
        self.query_one(RunStatus).show_running(
            points[index], self._phase, self._progress, elapsed, sweep
        )
        self._status_drawn_at = time.monotonic()

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
        chart = self.query_one(ScalingChart)
        chart.border_title = "Speedup over 1 x 1" if chart.speedup else "Fit time"

    def action_cycle_theme(self) -> None:
        names = self.catalog.names()
        position = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(position + 1) % len(names)]
        self.notify(f"Theme: {self.theme}", timeout=2)


def run_app(
    theme: str | None = None,
    sample_hz: float | None = None,
    store: ResultStore | None = None,
    catalogue: Catalogue | None = None,
    options: RunOptions | None = None,
) -> int:
    app = CpulabApp(
        theme=theme,
        sample_hz=sample_hz or DEFAULT_HZ,
        store=store,
        catalogue=catalogue,
        options=options,
    )
    try:
        app.run()
    finally:
        app.stop_run_now()  # also when the app itself crashed
    return app.return_code or 0
