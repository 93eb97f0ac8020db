"""The advice search on this machine: each batch the search asks for is measured by runner
children, stored as a sweep of strategy "advise", within what is left of the budget.

A batch is one runner per BLAS value (a runner's points share their options), so imports,
data and workers are paid once a batch, and counted: the budget is wall-clock time. A batch
still running when the budget ends is cancelled; the runs it finished are kept, in the store
and in the search. The user's stop (Ctrl-C, SIGTERM, the app's cancel) ends the search the
same way, during a batch or between two, and the advice says so.

`run_advice` is the search's lifecycle, the same for the CLI and the app: search, then
store the advice with the sweeps it measured, and say how it ended.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import groupby
from typing import Any

from cpulab.engine.advise import (
    BUDGET,
    Advice,
    AdviceRequest,
    BudgetExhausted,
    Setting,
    Trial,
    advise,
)
from cpulab.engine.events import Result
from cpulab.engine.machine import machine_facts
from cpulab.engine.session import STORE_ERRORS, Outcome, Session
from cpulab.engine.spec import RunOptions
from cpulab.engine.store import ResultStore
from cpulab.engine.sweep import SweepPlan
from cpulab.engine.tasks import Task

STRATEGY = "advise"  # how the batches' sweeps are recorded


class SearchStopped(BudgetExhausted):
    """The user stopped the search, or a batch failed: the advice is the best so far.
    `status` says how (cancelled, interrupted, failed, refused); `outcome`, how the batch
    ended, where one was running."""

    def __init__(self, status: str, trials: Sequence[Trial], outcome: Outcome | None) -> None:
        super().__init__(trials, status)
        self.status, self.outcome = status, outcome


def plain_session(plan: SweepPlan, time_limit: float, **hooks: Any) -> Session:
    return Session(plan, time_limit=time_limit, **hooks)


class RunnerMeasurer:
    """A `Measurer` of real runs. `run_session` runs one batch's session to its end (the CLI
    in the foreground with its live view; the app on its event loop)."""

    def __init__(
        self,
        task: Task,
        scale: str,
        options: RunOptions,
        available: int,
        budget: float,
        run_session: Callable[[Session], Outcome],
        *,
        store: ResultStore | None = None,
        warmup: int = 1,
        catalogue: Mapping[str, Task] | None = None,
        on_store_problem: Callable[[str], None] | None = None,
        new_session: Callable[..., Session] = plain_session,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`new_session(plan, time_limit, store=, on_store_problem=)` makes each batch's
        session: the app's has its supervisor and its sampler's watch too."""
        self.task, self.scale, self.options = task, scale, options
        self.available, self.budget = available, budget
        self.run_session = run_session
        self.store, self.warmup, self.catalogue = store, warmup, catalogue
        self.on_store_problem = on_store_problem
        self.new_session = new_session
        self.clock = clock
        self.started = clock()
        self.sweeps: list[int] = []  # the stored sweeps of the batches, in order
        self.stopped: SearchStopped | None = None  # set when the user or a failure stopped it
        self._stop: str | None = None  # asked to stop between batches, and how
        self.signal: int | None = None  # the signal that asked, if one did

    def stop(self, status: str = "cancelled", signum: int | None = None) -> None:
        """Start no batch after the one running (if any): the app's cancel and quit, a
        signal between the CLI's batches."""
        if self._stop is None:
            self._stop, self.signal = status, signum

    @property
    def stopping(self) -> bool:
        return self._stop is not None

    def spent(self) -> float:
        return self.clock() - self.started

    def plans(
        self, settings: Sequence[Setting], repeats: int
    ) -> list[tuple[int | None, SweepPlan]]:
        """The batch as runner plans, one per BLAS value (None: the options' own)."""
        plans = []
        for blas, group in groupby(sorted(settings, key=_blas_order), key=lambda s: s.blas):
            options = self.options if blas is None else replace(self.options, blas_threads=blas)
            plans.append(
                (
                    blas,
                    SweepPlan.of_splits(
                        self.task,
                        [(s.train, s.eval) for s in group],
                        STRATEGY,
                        scale=self.scale,
                        repeats=repeats,
                        warmup=self.warmup,
                        available=self.available,
                        options=options,
                        catalogue=self.catalogue,
                    ),
                )
            )
        return plans

    def measure(self, settings: Sequence[Setting], repeats: int) -> list[Trial]:
        trials: list[Trial] = []
        for blas, plan in self.plans(settings, repeats):
            if self._stop is not None:
                self.stopped = SearchStopped(self._stop, trials, None)
                raise self.stopped
            left = self.budget - self.spent()
            if left <= 0:
                raise BudgetExhausted(trials)
            session = self.new_session(
                plan, left, store=self.store, on_store_problem=self.on_store_problem
            )
            outcome = self.run_session(session)
            if outcome.sweep_id is not None:
                self.sweeps.append(outcome.sweep_id)
            trials += _trials(blas, outcome)
            if session.timed_out:
                raise BudgetExhausted(trials)
            if outcome.status != "done":
                self.stopped = SearchStopped(outcome.status, trials, outcome)
                raise self.stopped
        return trials


def _blas_order(setting: Setting) -> tuple[int, int]:
    return (0, 0) if setting.blas is None else (1, setting.blas)


def _trials(blas: int | None, outcome: Outcome) -> list[Trial]:
    """Each point's measured runs, a point cut short included."""
    found: dict[tuple[int, int], Result] = {}
    for result in (*outcome.results, *outcome.partial):
        found[(result.train, result.eval)] = result
    return [
        Trial(Setting(r.train, r.eval, blas), tuple(r.fit_times), _peak_memory(r))
        for r in found.values()
        if r.fit_times
    ]


def _peak_memory(result: Result) -> int | None:
    """The tree's peak: its summed PSS (shared pages once) where read, else its RSS."""
    return result.memory.get("total_pss") or result.peak_rss or None


@dataclass(frozen=True)
class AdviceOutcome:
    """How a search ended: its advice (None: not one run measured, `problem` says why),
    the advice's id in the store (None: not stored, `store_problem` says why where it
    failed), and `batch`, the outcome of the batch that a stop or failure ended."""

    status: str  # settled, budget, or how it was stopped: cancelled, interrupted, failed
    advice: Advice | None
    advice_id: int | None = None
    batch: Outcome | None = None
    problem: str | None = None
    store_problem: str | None = None


def run_advice(
    request: AdviceRequest, measurer: RunnerMeasurer, on_step: Callable[[str], None]
) -> AdviceOutcome:
    """Search, then store the advice with the sweeps of its batches. A UsageError (a
    memory limit that every setting exceeds) is the caller's to report."""
    try:
        advice = advise(request, measurer, on_step)
    except BudgetExhausted as exc:
        # Not one run measured: its batches' sweeps are empty, and no advice names them.
        if measurer.store is not None:
            for sweep_id in measurer.sweeps:
                measurer.store.forget_sweep(sweep_id)
        batch = measurer.stopped.outcome if measurer.stopped is not None else None
        problem = (
            f"the budget of {request.budget:g} s ended before the first run did: give more"
            if exc.reason == BUDGET
            else f"the search was {exc.reason} before a run was measured"
        )
        return AdviceOutcome(exc.reason, None, batch=batch, problem=problem)
    batch = measurer.stopped.outcome if measurer.stopped is not None else None
    if measurer.store is None:
        return AdviceOutcome(advice.stopped, advice, batch=batch)
    record = {**advice.to_dict(), "sweeps": measurer.sweeps}
    try:
        advice_id = measurer.store.add_advice(
            measurer.task.name,
            measurer.scale,
            measurer.options.variant,
            advice.stopped,
            machine_facts(),
            record,
        )
    except STORE_ERRORS as exc:
        return AdviceOutcome(advice.stopped, advice, batch=batch, store_problem=str(exc))
    return AdviceOutcome(advice.stopped, advice, advice_id, batch)
