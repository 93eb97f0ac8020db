"""The advice search on this machine: each batch the search asks for is measured by runner
children, stored as a sweep of strategy "advise", within what is left of the budget.

A batch is one runner per BLAS value (a runner's points share their options), so imports,
data and workers are paid once a batch, and counted: the budget is wall-clock time. A batch
still running when the budget ends is cancelled; the runs it finished are kept, in the store
and in the search. The user's stop (Ctrl-C, SIGTERM, the app's cancel) ends the search the
same way, and says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from itertools import groupby
from typing import Any

from cpulab.engine.advise import BudgetExhausted, Setting, Trial
from cpulab.engine.events import Result
from cpulab.engine.session import Outcome, Session
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
        super().__init__(trials)
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

    def stop(self, status: str = "cancelled") -> None:
        """Start no batch after the one running (if any): for the app's cancel and quit."""
        self._stop = status

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
        Trial(Setting(r.train, r.eval, blas), tuple(r.fit_times), r.peak_rss or None)
        for r in found.values()
        if r.fit_times
    ]
