"""Fakes and helpers shared by the TUI tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from textual.pilot import Pilot

from cpulab.engine.events import Cancelled, Event, Phase, Progress, Result, Started
from cpulab.engine.spec import RunSpec
from cpulab.engine.supervisor import Supervisor
from cpulab.ui.app import CpulabApp
from support.fake_sampler import FakeSampler

# A run caught in its measured call: what the "running" snapshots show.
FITTING = (
    Started(pid=4242, pgid=4242, t=0.0),
    Phase(name="fit", t=0.0, repeat=1),
    Progress(done=12, total=30, unit="folds", t=0.0),
)


class ScriptedHandle:
    """Plays its events, then waits to be cancelled, like a run that never ends."""

    pid = 4242

    def __init__(self, events: tuple[Event, ...]):
        self._events = events
        self._stop = asyncio.Event()
        self.finished = False
        self.final: Event | None = None

    async def events(self):
        for event in self._events:
            yield event
        await self._stop.wait()
        self.finished = True
        self.final = Cancelled(seconds=0.0)
        yield self.final

    async def cancel(self) -> None:
        self._stop.set()

    def kill(self) -> None:
        self._stop.set()


class ScriptedSupervisor(Supervisor):
    def __init__(self, events: tuple[Event, ...] = FITTING):
        super().__init__(spares=False)
        self.events = events
        self.specs: list[RunSpec] = []

    async def start(self, spec: RunSpec) -> ScriptedHandle:
        self.specs.append(spec)
        return ScriptedHandle(self.events)


def make_app(cores: int = 2, **options) -> CpulabApp:
    """An app on a fake machine of `cores` cores, with a stopped clock and no animations."""
    options.setdefault("sampler", FakeSampler.pattern(cores))
    # A spare runner per app would import scikit-learn beside every test: one test has it.
    options.setdefault("supervisor", Supervisor(spares=False))
    app = CpulabApp(clock=lambda: 0.0, **options)
    app.animation_level = "none"
    return app


def make_result(task: str, train: int, eval: int, seconds: float, **fields) -> Result:
    values = dict(
        task=task,
        title=task,
        scale="small",
        train=train,
        eval=eval,
        available=2,
        fit_times=[seconds],
        warmup_times=[],
        setup={"imports": 0.8, "data": 0.01, "workers": 0.0},
        cpu_time=seconds * train * eval,
        peak_rss=200 * 2**20,
        score=0.9,
        metric="accuracy",
    )
    return Result(**{**values, **fields})


THREE_RESULTS = (
    make_result("rf-train", 1, 1, 2.0),
    make_result("rf-train", 2, 1, 1.1, score=0.948),
    make_result("cv-eval", 2, 2, 0.6, flags=["oversubscribed", "noisy"], peak_rss=450 * 2**20),
)


async def wait_for(pilot: Pilot, condition: Callable[[], object], timeout: float = 10.0):
    """Let the app run until `condition()` holds; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {condition}")
        await pilot.pause(0.02)


async def sampled(pilot: Pilot) -> None:
    """Wait for the first core sample, so what is drawn no longer changes."""
    from cpulab.ui.widgets import CoreGrid

    await wait_for(pilot, lambda: pilot.app.query_one(CoreGrid).sample is not None)
