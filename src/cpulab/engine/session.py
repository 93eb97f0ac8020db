"""One run or sweep, from request to stored result: the lifecycle both faces share.

A `Session` checks the request, starts it through the supervisor, hands every event to
its listeners (the CLI's live view, the app's messages), stores each measured run as it
arrives (a point's row, replaced by its later runs and then by its final result, so a
point cut short keeps what it measured), and records how a sweep ended from what
actually happened:

    done         every point measured
    cancelled    stopped by the user (Ctrl-C, the app's cancel, quitting the app)
    failed       the runner failed; the sweep keeps the error
    interrupted  stopped by a signal (SIGTERM, SIGHUP)
    refused      the runner refused the input (a data file, a cluster): bad input, and a
                 sweep refused before its first point leaves no trace in the history

Store writes run in a worker thread, never on the event loop that streams the events: in
the app, that loop is the UI's.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from operator import methodcaller
from typing import Any

from cpulab.engine.errors import INTERRUPTING_SIGNALS
from cpulab.engine.events import Error, Event, Result
from cpulab.engine.machine import machine_facts
from cpulab.engine.models import ScalingModel, sweep_model
from cpulab.engine.spec import RunSpec, SweepSpec
from cpulab.engine.store import ResultStore, locked_out
from cpulab.engine.supervisor import CHILD_DIED, RunHandle, Supervisor
from cpulab.engine.sweep import SweepPlan

Listener = Callable[[Event], None]
SUSPEND = getattr(signal, "SIGTSTP", None)  # Ctrl-Z, where there is job control
STORE_ERRORS = (sqlite3.Error, OSError, ValueError)
NOT_WRITTEN = object()  # what a write the store refused returns
# Seconds the end of a session waits, at most, for a store another process holds locked:
# what it measured and could not store as it came. Each try waits LOCK_STEP.
LOCK_PATIENCE = 60.0
LOCK_STEP = 0.25
AGAIN = ": tried again at the end"  # ends the problem of a write tried again


@dataclass(frozen=True)
class Outcome:
    """How a session ended."""

    status: str  # done, cancelled, failed, interrupted or refused
    final: Event | None  # the last event: a Result, Error or Cancelled; None if none came
    results: tuple[Result, ...]  # every final result, in the order they arrived
    sweep_id: int | None  # the stored sweep; None for a single run, or one left no trace
    signal: int | None = None  # the signal that interrupted it
    # Points cut short before their last measured run: what they measured, kept too.
    partial: tuple[Result, ...] = ()
    store_problems: tuple[str, ...] = ()  # writes that failed: those results are not kept
    # A sweep's scaling model over what it measured (partial points too), stored with it;
    # None for a single run, or fewer than two core counts.
    model: ScalingModel | None = None

    @property
    def error(self) -> Error | None:
        return self.final if isinstance(self.final, Error) else None

    @property
    def signal_name(self) -> str | None:
        return None if self.signal is None else signal.Signals(self.signal).name


def continue_runner(runner: int) -> None:
    """Continue a runner's process group that `Session.stop_runner` stopped."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(runner, signal.SIGCONT)


class Session:
    """One run (a checked `RunSpec`) or sweep (a `SweepPlan`, checked here), once.

    `listen()` adds a listener of events; `on_spawn` learns the runner's pid before its
    first event, so the app can watch its start-up; `on_store_problem` hears a write
    that failed (a full disk, a locked file), which never stops the measurement.
    """

    def __init__(
        self,
        request: RunSpec | SweepPlan,
        *,
        store: ResultStore | None = None,
        supervisor: Supervisor | None = None,
        on_spawn: Callable[[int], None] | None = None,
        on_store_problem: Callable[[str], None] | None = None,
        time_limit: float | None = None,
    ) -> None:
        self.plan = request if isinstance(request, SweepPlan) else None
        # A plan is checked as it becomes a spec: UsageError here, before anything runs.
        self.spec: RunSpec | SweepSpec = (
            request.spec() if isinstance(request, SweepPlan) else request
        )
        self.points: tuple[RunSpec, ...] = (
            self.spec.points if isinstance(self.spec, SweepSpec) else (self.spec,)
        )
        self.store = store
        self.supervisor = supervisor or Supervisor()
        self.on_spawn = on_spawn
        self.on_store_problem = on_store_problem
        # Seconds it may take from its start: then it is cancelled, keeping what it measured
        # (an advice search's budget); `timed_out` says that is how it ended.
        self.time_limit = time_limit
        self.timed_out = False
        self.listeners: list[Listener] = []
        self.store_problems: list[str] = []
        self.results: list[Result] = []
        # The latest state of each point, by (train, eval), its row in the store, and the
        # points whose latest state the store could not take yet.
        self._latest: dict[tuple[int, int], Result] = {}
        self._stored: dict[tuple[int, int], int] = {}
        self._unsaved: set[tuple[int, int]] = set()
        self._locked = False  # whether the last write failed on another process's lock
        # One write at a time, whichever thread: the run's, or an abort's end, which must
        # not store a point, or record the sweep, a second time.
        self._write_lock = threading.Lock()
        self._hurry = False  # an abort, or a signal at the end: stop waiting on a lock
        self.sweep_id: int | None = None
        self.outcome: Outcome | None = None
        self._handle: RunHandle | None = None
        self._stop: tuple[str, int | None] | None = None  # (status, signal) once asked
        self._stopping: asyncio.Task | None = None
        self._end_lock = threading.Lock()  # the run's end and an abort may race

    def listen(self, listener: Listener) -> Session:
        self.listeners.append(listener)
        return self

    @property
    def ended(self) -> bool:
        """Whether its final event (the last result, an error, the cancel) has come."""
        return self._handle is not None and self._handle.finished

    def point_id(self, result: Result) -> int | None:
        """The store's row of this result's point, once written; None before, or where
        nothing is stored."""
        return self._stored.get((result.train, result.eval))

    @property
    def pid(self) -> int | None:
        """The runner's pid, once it is started."""
        return self._handle.pid if self._handle is not None else None

    async def run(self) -> Outcome:
        """Run to the end; returns how it ended. Call once."""
        if self.plan is not None and self.store is not None:
            # Where another process holds the store locked, its first point records it.
            recorded = await self._write(self._record_sweep, again_at_the_end=True)
            self.sweep_id = None if recorded is NOT_WRITTEN else recorded
        final: Event | None = None
        timer = None
        if self.time_limit is not None:
            timer = asyncio.get_running_loop().call_later(max(0.0, self.time_limit), self._time_up)
        try:
            self._handle = await self.supervisor.start(self.spec)
        except OSError as exc:  # the runner could not be started at all
            final = Error(type=type(exc).__name__, message=str(exc))
            self._emit(final)
        else:
            if self.on_spawn is not None:
                self.on_spawn(self._handle.pid)
            if self._stop is not None:  # asked to stop while it started
                await self._handle.cancel()
            async for event in self._handle.events():
                if isinstance(event, Result):
                    await self._keep(event)
                self._emit(event)
                final = event
        finally:
            if timer is not None:
                timer.cancel()
        return await asyncio.to_thread(self._end, self._status(final), final, LOCK_PATIENCE)

    async def cancel(self) -> None:
        """Stop it on the user's request: the whole process tree, then Cancelled."""
        await self._stop_with("cancelled", None)

    def stop_soon(self, status: str, signum: int | None = None) -> None:
        """Stop it from a signal handler on the loop it runs on: "cancelled" (Ctrl-C) or
        "interrupted" by `signum`. Once the run is over, its end waits on a locked store
        no longer."""
        if self.ended:
            self._hurry = True
        self._stopping = asyncio.ensure_future(self._stop_with(status, signum))

    def _time_up(self) -> None:
        if self._stop is None:
            self.timed_out = True
            self.stop_soon("cancelled")

    async def _stop_with(self, status: str, signum: int | None) -> None:
        if self._stop is None:
            self._stop = (status, signum)
        if self._handle is not None:
            await self._handle.cancel()

    def abort(self, status: str = "cancelled", signum: int | None = None) -> Outcome:
        """Kill the tree now and record the end, from any thread, without the event loop:
        for an app that is quitting ("cancelled") or ended by signal `signum`
        ("interrupted"), or a loop that was itself interrupted."""
        if self._stop is None:
            self._stop = (status, signum)
        self._hurry = True  # the run's own end may be waiting on a locked store
        handle = self._handle
        if handle is not None and not handle.finished:
            handle.kill()
        return self._end(self._stop[0], handle.final if handle is not None else None)

    def run_blocking(self) -> Outcome:
        """Run in the foreground, for the CLI: Ctrl-C cancels, SIGTERM and SIGHUP interrupt,
        and either way the tree is gone and the measured results are kept."""

        handled = [s for s in (signal.SIGINT, *INTERRUPTING_SIGNALS, SUSPEND) if s is not None]
        # asyncio puts back the defaults, not what was there: a caller's own handlers (an
        # advice search between its batches) are put back here.
        before = {signum: signal.getsignal(signum) for signum in handled}

        async def main() -> Outcome:
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGINT, self.stop_soon, "cancelled")
            for signum in INTERRUPTING_SIGNALS:
                loop.add_signal_handler(signum, self.stop_soon, "interrupted", signum)
            if SUSPEND is not None:
                loop.add_signal_handler(SUSPEND, self.suspend)
            try:
                return await self.run()
            finally:
                for signum in handled:
                    loop.remove_signal_handler(signum)
                    if before[signum] is not None:
                        signal.signal(signum, before[signum])

        try:
            return asyncio.run(main())
        except BaseException:
            self.abort()
            raise

    def suspend(self) -> None:
        """Ctrl-Z in the foreground: stop the run's whole process group, then this process;
        when the shell continues this one (fg, bg), continue the run too. Its runner lives
        in a session of its own, so the terminal's own stop never reaches it."""
        stopped = self.stop_runner()
        os.kill(os.getpid(), signal.SIGSTOP)  # returns once the shell continues us
        if stopped is not None:
            continue_runner(stopped)

    def stop_runner(self) -> int | None:
        """Stop the runner's whole process group (SIGSTOP) where one has started and job
        control exists; its pid, for `continue_runner`, or None."""
        runner = self.pid
        if runner is None or SUSPEND is None:
            return None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(runner, signal.SIGSTOP)
        return runner

    # What happens at the end, and in the store.

    def _status(self, final: Event | None) -> str:
        if isinstance(final, Result):
            return "done"
        if self._stop is not None:  # what stopping it caused (Cancelled, or a killed runner)
            return self._stop[0]
        if isinstance(final, Error):
            return "refused" if final.bad_input else "failed"
        return "cancelled"

    def _end(self, status: str, final: Event | None, patience: float = 0.0) -> Outcome:
        """Record the end once, whichever path gets here first. Runs off the event loop;
        `patience`: seconds it may wait on a store another process holds locked."""
        with self._end_lock:
            if self.outcome is not None:
                return self.outcome
            if self._stop is not None and isinstance(final, Error) and final.type == CHILD_DIED:
                # Killed by the stop (abort kills it at once, from another thread): no
                # failure of its own to record.
                final = None
            partial = tuple(r for r in self._latest.values() if r.partial)
            measured = (*self.results, *partial)
            model = sweep_model(measured) if self.plan is not None else None
            give_up = time.monotonic() + patience
            self._store_the_rest(give_up)
            sweep_id, finished = self.sweep_id, True
            if sweep_id is not None:
                error = final.one_line() if isinstance(final, Error) else None
                stored = "failed" if status == "refused" else status  # then forgotten if empty
                summary = model.to_dict(measured[0].available) if model is not None else None
                finish = methodcaller("finish_sweep", sweep_id, stored, error, summary)
                finished = self._write_patiently(finish, give_up) is not NOT_WRITTEN
                if status == "refused" and not self._latest:
                    self._write_now(methodcaller("forget_sweep", sweep_id))
                    sweep_id = None
            signum = self._stop[1] if self._stop is not None and status == "interrupted" else None
            lost = bool(self._unsaved) or not finished
            if lost and self.store is not None:
                self._say_problem(f"{self.store.path}: tried again at the end in vain: not saved")
            # A lock that held back results it then let through lost nothing.
            problems = [p for p in self.store_problems if lost or not p.endswith(AGAIN)]
            self.outcome = Outcome(
                status,
                final,
                tuple(self.results),
                sweep_id,
                signum,
                partial,
                tuple(problems),
                model,
            )
            return self.outcome

    async def _keep(self, result: Result) -> None:
        """Store each measured run as it arrives: a point's first one adds its row, each
        later one (and its final result) replaces it. One the store cannot take is kept
        here, and tried again with the next state of its point, and at the end."""
        point = (result.train, result.eval)
        self._latest[point] = result
        if not result.partial:
            self.results.append(result)
        store = functools.partial(self._store_point, point=point, result=result)
        if await self._write(store, again_at_the_end=True) is NOT_WRITTEN:
            self._unsaved.add(point)
        else:
            self._unsaved.discard(point)

    def _store_point(self, store: ResultStore, point: tuple[int, int], result: Result) -> None:
        # A sweep's points go into its record, never in as single runs: where the record
        # could not be written at the start, it is written first.
        if self.plan is not None and self.sweep_id is None:
            self.sweep_id = self._record_sweep(store)
        if point in self._stored:
            store.replace_point(self._stored[point], result)
        else:
            self._stored[point] = store.add_point(result, self.sweep_id)

    def _store_the_rest(self, give_up: float) -> None:
        """What the store could not take as it came (another process held its write lock
        longer than its busy timeout), tried again now that nothing waits on the store."""
        for point in sorted(self._unsaved):
            store = functools.partial(self._store_point, point=point, result=self._latest[point])
            if self._write_patiently(store, give_up) is not NOT_WRITTEN:
                self._unsaved.discard(point)

    def _write_patiently(self, write: Callable[[ResultStore], Any], give_up: float) -> Any:
        """`write` once, and again while another process holds the store locked, until
        the monotonic time `give_up`. Each try waits LOCK_STEP at most, so that a hurry (a
        signal once the run is over, the app quitting) is heard that soon."""

        def briefly(store: ResultStore) -> Any:
            with store.waiting_at_most(LOCK_STEP):
                return write(store)

        while True:
            written = self._write_now(briefly, again_at_the_end=True)
            if written is not NOT_WRITTEN or not self._locked or self._hurry:
                return written
            if time.monotonic() >= give_up:
                return written

    def _record_sweep(self, store: ResultStore) -> int:
        plan = self.plan
        assert plan is not None
        return store.start_sweep(
            plan.task.name,
            plan.scale,
            plan.strategy,
            list(plan.cores),
            plan.repeats,
            plan.warmup,
            machine_facts(),
        )

    async def _write(
        self, write: Callable[[ResultStore], Any], again_at_the_end: bool = False
    ) -> Any:
        if self.store is None:
            return None
        return await asyncio.to_thread(self._write_now, write, again_at_the_end)

    def _write_now(
        self, write: Callable[[ResultStore], Any], again_at_the_end: bool = False
    ) -> Any:
        """A store that fails to write must not stop the measurement: say so, go on.
        NOT_WRITTEN where it failed; `again_at_the_end`: the session tries again then."""
        if self.store is None:
            return None
        with self._write_lock:
            try:
                written = write(self.store)
            except STORE_ERRORS as exc:
                self._locked = locked_out(exc)
                problem = (
                    str(exc) if str(self.store.path) in str(exc) else f"{self.store.path}: {exc}"
                )
                if self._locked:
                    problem += " (another process is writing it)"
                if again_at_the_end:
                    problem += AGAIN
                if problem not in self.store_problems[-1:]:  # tried again: said once
                    self._say_problem(problem)
                return NOT_WRITTEN
            self._locked = False
            return written

    def _say_problem(self, problem: str) -> None:
        self.store_problems.append(problem)
        if self.on_store_problem is not None:
            self.on_store_problem(problem)

    def _emit(self, event: Event) -> None:
        for listener in self.listeners:
            listener(event)
