"""A simulated machine for the adviser: known true times, noisy measurements, a budget.

Times come from a USL-like model of the two nested levels a scikit-learn evaluation has:

- evaluation: F fits (folds, or folds x candidates) shared by `eval` workers, in
  ceil(F / eval) waves, plus a refit in the parent where the task has one;
- training: each fit is a USL curve over its `train` threads, T = W (s + (1 - s) / t +
  k (t - 1)), and where the kind does BLAS work, a share of each fit is a second USL curve over
  the BLAS threads (left alone, joblib caps them at cores // eval in each worker, and a lone
  process takes every core);
- the whole machine: contention that grows with the cores in use, 1 + c (n - 1) + g n (n - 1)
  (g > 0 turns scaling retrograde), and when more threads than cores run, time-sharing (n /
  cores) with a switching cost on top;
- start-up: a little per worker, per thread and per dispatched fit.

Each measured run is the true time times lognormal noise. What the search spends is the sum of
the measured times plus a fixed start-up per batch (a runner starting and importing
scikit-learn), as a real runner's wall clock would be. Standard library only.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from cpulab.engine.advise import BudgetExhausted, Setting, Trial, grid_cores, splits

BATCH_OVERHEAD = 2.0  # seconds a batch costs before its first run: a runner's start-up
GRID_REPEATS = 3
MIB = 1 << 20


@dataclass(frozen=True)
class MachineKind:
    """One shape of workload on the simulated machine; the docstring of the module says how
    each number enters the time."""

    name: str
    description: str
    folds: int  # fits the evaluation level shares out
    fit: float  # seconds of one fit on one thread
    refit: float = 0.0  # fits run after the evaluation in the parent (GridSearchCV's refit)
    serial: float = 0.5  # seconds no core shortens (data, dispatch set-up)
    train_s: float = 0.05  # training threads' serial fraction
    train_k: float = 0.0  # and crosstalk
    blas_share: float = 0.0  # share of each fit spent in BLAS calls
    blas_s: float = 0.05
    blas_k: float = 0.002
    contention: float = 0.002  # c: memory bandwidth and the like, per core in use
    crosstalk_peak: float | None = None  # where set, g puts the machine's peak there (x cores)
    switching: float = 0.1  # extra cost per unit of oversubscription
    per_worker: float = 0.01  # seconds per evaluation worker
    per_thread: float = 0.001  # seconds per training thread
    per_task: float = 0.002  # seconds per dispatched fit
    memory_base: int = 300 * MIB
    memory_worker: int = 120 * MIB  # each evaluation worker holds a copy of the data
    memory_thread: int = 4 * MIB


KINDS: dict[str, MachineKind] = {
    kind.name: kind
    for kind in (
        MachineKind(
            "eval-heavy",
            "30 CV fits of a small forest: training threads help little, workers a lot",
            folds=30,
            fit=2.0,
            refit=1.0,
            train_s=0.35,
            train_k=0.005,
        ),
        MachineKind(
            "train-heavy",
            "a large forest in 5-fold CV: training threads scale, 5 folds cap evaluation",
            folds=5,
            fit=12.0,
            refit=1.0,
            train_s=0.02,
            train_k=0.00005,
            memory_worker=600 * MIB,
        ),
        MachineKind(
            "retrograde",
            "20 fits that share memory bandwidth: past about a third of the cores, slower",
            folds=20,
            fit=3.0,
            train_s=0.1,
            train_k=0.001,
            contention=0.01,
            crosstalk_peak=0.35,
        ),
        MachineKind(
            "blas-sensitive",
            "10 fits of a linear model, mostly in BLAS: threads there matter more than workers",
            folds=10,
            fit=6.0,
            refit=1.0,
            train_s=0.5,
            train_k=0.01,
            blas_share=0.8,
            blas_s=0.03,
            blas_k=0.001,
            switching=0.3,
        ),
    )
}


def _usl(work: float, s: float, k: float, threads: int) -> float:
    return work * (s + (1 - s) / threads + k * (threads - 1))


class SimulatedMachine:
    """A `Measurer` over a simulated machine of `cores` cores running one kind of workload.

    With a `budget`, a run that would take the spent time past it is cut where the budget
    ends and `BudgetExhausted` is raised, carrying the batch's runs that finished.
    """

    def __init__(
        self,
        cores: int,
        seed: int,
        noise: float = 0.05,
        kind: str | MachineKind = "eval-heavy",
        budget: float | None = None,
        overhead: float = BATCH_OVERHEAD,
    ) -> None:
        if cores < 1:
            raise ValueError("cores must be at least 1")
        self.cores = cores
        self.noise = noise
        self.kind = KINDS[kind] if isinstance(kind, str) else kind
        self.budget = budget
        self.overhead = overhead
        self.batches = 0
        self.runs = 0
        self._rng = random.Random(seed)
        self._spent = 0.0
        peak = self.kind.crosstalk_peak
        # The USL peaks at sqrt((1 - c) / g): g puts it at `peak` x cores.
        self._g = (1 - self.kind.contention) / (peak * cores) ** 2 if peak else 0.0

    # The truth.

    def time(self, setting: Setting) -> float:
        """The noise-free time of one run of `setting`."""
        kind = self.kind
        t, e = setting.train, setting.eval
        blas = setting.blas if setting.blas is not None else max(1, self.cores // e)
        waves = math.ceil(kind.folds / e)
        in_cv = self._fit(t, e, blas) * waves
        refit = self._fit(t, 1, blas) * kind.refit
        used = min(t * e, self.cores)
        contention = 1 + kind.contention * (used - 1) + self._g * used * (used - 1)
        start_up = kind.per_worker * e + kind.per_thread * t + kind.per_task * kind.folds
        return kind.serial + (in_cv + refit) * contention + start_up

    def _fit(self, train: int, workers: int, blas: int) -> float:
        """One fit's seconds while `workers` fits run at once, each with `train` threads."""
        kind = self.kind
        python = _usl(kind.fit * (1 - kind.blas_share), kind.train_s, kind.train_k, train)
        python *= self._oversubscribed(train * workers)
        if not kind.blas_share:
            return python
        in_blas = _usl(kind.fit * kind.blas_share, kind.blas_s, kind.blas_k, blas)
        return python + in_blas * self._oversubscribed(train * workers * blas)

    def _oversubscribed(self, threads: int) -> float:
        ratio = threads / self.cores
        return 1.0 if ratio <= 1 else ratio * (1 + self.kind.switching * (ratio - 1))

    def memory(self, setting: Setting) -> int:
        kind = self.kind
        workers = setting.eval if setting.eval > 1 else 0
        return kind.memory_base + workers * kind.memory_worker + setting.cores * kind.memory_thread

    # The Measurer.

    def measure(self, settings: Sequence[Setting], repeats: int) -> list[Trial]:
        """Each setting `repeats` times, interleaved round by round."""
        self.batches += 1
        self._charge(self.overhead, {})
        times: dict[Setting, list[float]] = {s: [] for s in settings}
        for _ in range(repeats):
            for setting in settings:
                measured = self.time(setting) * math.exp(self._rng.gauss(0.0, self.noise))
                self._charge(measured, times)
                times[setting].append(measured)
                self.runs += 1
        return self._trials(times)

    def spent(self) -> float:
        return self._spent

    def _charge(self, seconds: float, times: dict[Setting, list[float]]) -> None:
        if self.budget is not None and self._spent + seconds > self.budget:
            self._spent = max(self._spent, self.budget)
            raise BudgetExhausted(tuple(self._trials(times)))
        self._spent += seconds

    def _trials(self, times: dict[Setting, list[float]]) -> list[Trial]:
        return [Trial(s, tuple(ts), self.memory(s)) for s, ts in times.items() if ts]

    # The exhaustive grid, for the benchmark.

    def grid(self, knobs: frozenset[str], blas: Sequence[int] = ()) -> list[Setting]:
        """Every split of every power of two up to the cores (and the cores), x BLAS values."""
        values: Sequence[int | None] = tuple(blas) or (None,)
        return [
            Setting(t, e, b)
            for p in grid_cores(self.cores)
            for t, e in splits(p, knobs)
            for b in values
        ]

    def grid_cost(self, settings: Sequence[Setting], repeats: int = GRID_REPEATS) -> float:
        """What measuring `settings` `repeats` times in one batch costs, noise-free."""
        return self.overhead + repeats * math.fsum(self.time(s) for s in settings)

    def best(self, settings: Sequence[Setting]) -> tuple[Setting, float]:
        """The truly fastest of `settings` and its time."""
        chosen = min(settings, key=self.time)
        return chosen, self.time(chosen)
