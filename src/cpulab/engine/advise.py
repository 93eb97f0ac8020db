"""`cpulab advise`: find how to split the cores within a time budget, without the whole grid.

The search runs against any `Measurer` (runner processes, or `advise_sim`'s simulated machine)
over the exhaustive grid's settings: every split t x e of every power of two up to the most
cores (and the most), times the BLAS values asked for.

1. The curve. 1 x 1 and a few core counts spread on a log scale up to the most (the most,
   then a quarter of it, and so on: at most five counts), each once with the task's main knob
   (all cores to evaluation where the task has that knob, else to training), in one batch,
   cheapest first. `fit_scaling` fills in the counts between.
2. Round 1 of successive halving, count by count. Every split of the curve's fastest count
   once (with BLAS values: every t x e x b with that many threads). Then the next promising
   count, while the budget left pays for it and for the rounds after: a climb to more cores
   while the winner so far sits at the most cores searched, the winner's neighbours, and any
   count the curve, scaled by what splitting gained, puts within PROMISING of the best. The
   curve is trusted about more cores only where the winner is (near) its own split: a curve
   flat in one knob says nothing about what the other knob adds.
3. The rest of the halving, from the faster half of everything measured (at most 2 x FIELD):
   keep the faster half by median, double the repeats, again, until one is left or the last
   ones are close (not significantly different by Mann-Whitney, and a Hodges-Lehmann shift
   within CLOSE). The fastest by median is recommended, or the simplest (fewest cores first)
   of those shown to be as fast as it (the shift's 95 % interval within AS_FAST), and the
   advice says so. The final comparison has at least `repeats` runs a side, and two close
   candidates get more (up to MAX_REPEATS) until the difference is significant or too small
   to matter.

No batch starts that the budget left cannot pay for by the measured times (a round that does
not fit is narrowed to its better half first); a measurer may also stop mid-batch by raising
`BudgetExhausted`. Either way the advice is the best so far, marked stopped by "budget".
Settings whose estimated peak memory is over the limit are neither measured in round 1 nor
recommended.

Standard library only, and no scikit-learn: the UI process may import this.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from math import comb
from typing import Any, Protocol

from cpulab.engine.compare import ALPHA, hodges_lehmann, mann_whitney
from cpulab.engine.cores import CORES_PER_CORE
from cpulab.engine.errors import UsageError
from cpulab.engine.models import Knee, Prediction, ScalingModel, fit_scaling
from cpulab.engine.presentation import counted, model_lines
from cpulab.engine.sweep import allowed, parse_cores

KNOBS = frozenset({"train", "eval"})
SETTLED = "settled"
BUDGET = "budget"
# Phase 1: core counts from the most down by this factor, at most this many besides 1 x 1.
CURVE_STEP = 4
CURVE_COUNTS = 4
# Core counts predicted within this share of the best predicted time are promising.
PROMISING = 0.10
# The search climbs to more cores where the curve is at most this much slower there.
CLIMB = 0.20
# Two candidates whose Hodges-Lehmann shift is within this share of the faster's median, and
# not significant, are close: not worth more runs to tell apart.
CLOSE = 0.025
# One is as fast as another when the 95 % interval of that shift lies within this share: then
# the simpler may win (at most this much slower, with 95 % confidence).
AS_FAST = 0.05
MAX_REPEATS = 16
# The halving's first round with repeats starts from at most this many candidates.
FIELD = 8
CONFIDENCE = 0.95
INTERVAL_METHOD = (
    "distribution-free interval of the median from the order statistics of the runs (binomial)"
)


class BudgetExhausted(Exception):
    """The search cannot go on: `trials` holds the runs of the batch that finished.
    `reason`: BUDGET where the budget ran out, or how the user or a failure stopped it
    ("cancelled", "interrupted", "failed"): the advice says which."""

    def __init__(self, trials: Iterable[Trial] = (), reason: str = BUDGET) -> None:
        self.trials = tuple(trials)
        self.reason = reason
        super().__init__("the time budget ran out" if reason == BUDGET else reason)


@dataclass(frozen=True, order=True)
class Setting:
    """Cores to training (estimator n_jobs) and to evaluation (CV/search n_jobs), and the
    BLAS/OpenMP threads of each process (None: the libraries' default)."""

    train: int
    eval: int
    blas: int | None = None

    @property
    def cores(self) -> int:
        """train x eval: BLAS threads do not add cores in this count."""
        return self.train * self.eval

    @property
    def threads(self) -> int:
        """The threads it may run at once: cores x BLAS threads (1 where left alone)."""
        return self.cores * (self.blas or 1)

    def label(self) -> str:
        split = f"{self.train} x {self.eval}"
        return split if self.blas is None else f"{split}, BLAS {self.blas}"

    def simplicity(self) -> tuple[int, int, int]:
        """Orders settings from the simplest: fewest cores, then fewest threads, then fewest
        training threads (worker processes are the more predictable level)."""
        return (self.cores, self.threads, self.train)

    def to_dict(self) -> dict[str, Any]:
        return {"train": self.train, "eval": self.eval, "blas": self.blas, "cores": self.cores}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Setting:
        return cls(int(data["train"]), int(data["eval"]), _optional_int(data.get("blas")))


@dataclass(frozen=True)
class Trial:
    """A setting's measured runs, in the order they ran, and its peak memory if known."""

    setting: Setting
    times: tuple[float, ...]  # seconds of each measured repeat
    memory: int | None = None  # peak bytes of the run's tree

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def n(self) -> int:
        return len(self.times)

    def to_dict(self) -> dict[str, Any]:
        return {
            "setting": self.setting.to_dict(),
            "times": list(self.times),
            "median": self.median,
            "memory": self.memory,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trial:
        return cls(
            Setting.from_dict(data["setting"]),
            tuple(float(t) for t in data["times"]),
            _optional_int(data.get("memory")),
        )


class Measurer(Protocol):
    def measure(self, settings: Sequence[Setting], repeats: int) -> list[Trial]:
        """Measure each setting `repeats` times (one batch, interleaved); may raise
        BudgetExhausted."""
        ...

    def spent(self) -> float:
        """Seconds of the budget used so far (real: wall clock incl. start-up; simulated:
        sum of times + a fixed overhead per batch)."""
        ...


@dataclass(frozen=True)
class AdviceRequest:
    max_cores: int
    budget: float  # seconds
    knobs: frozenset[str]  # subset of {"train", "eval"}; a missing knob stays 1
    blas: tuple[int, ...] = ()  # BLAS values to try (empty: leave BLAS alone)
    memory_limit: int | None = None  # bytes; settings predicted above it are never recommended
    repeats: int = 3  # repeats in the final comparison

    def __post_init__(self) -> None:
        if self.max_cores < 1:
            raise UsageError(f"the most cores must be at least 1, not {self.max_cores}")
        if not (math.isfinite(self.budget) and self.budget > 0):
            raise UsageError(f"the budget must be a positive duration, not {self.budget!r}")
        if not self.knobs or not self.knobs <= KNOBS:
            raise UsageError(f"knobs must be some of train and eval, not {sorted(self.knobs)}")
        if any(b < 1 for b in self.blas):
            raise UsageError("BLAS threads must be at least 1")
        if self.memory_limit is not None and self.memory_limit <= 0:
            raise UsageError("the memory limit must be positive")
        if self.repeats < 1:
            raise UsageError(f"repeats must be at least 1, not {self.repeats}")

    def blas_values(self) -> tuple[int | None, ...]:
        return tuple(sorted(set(self.blas))) or (None,)

    def space(self) -> list[Setting]:
        """Every setting the search may measure: the exhaustive grid's."""
        return [
            Setting(t, e, b)
            for p in grid_cores(self.max_cores)
            for t, e in splits(p, self.knobs)
            for b in self.blas_values()
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_cores": self.max_cores,
            "budget": self.budget,
            "knobs": sorted(self.knobs),
            "blas": list(self.blas),
            "memory_limit": self.memory_limit,
            "repeats": self.repeats,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AdviceRequest:
        return cls(
            max_cores=int(data["max_cores"]),
            budget=float(data["budget"]),
            knobs=frozenset(data["knobs"]),
            blas=tuple(int(b) for b in data["blas"]),
            memory_limit=_optional_int(data.get("memory_limit")),
            repeats=int(data["repeats"]),
        )


DURATION_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "": 1.0}
BLAS_DEFAULTS = (1, 2, 4, 8)  # what a bare --blas (or "auto") searches, up to the most cores


def parse_duration(text: str) -> float:
    """Seconds from "90", "90s", "2m", "1h30m", "1.5h"; one clear UsageError otherwise."""
    cleaned = re.sub(r"\s+", "", text.strip().lower())
    parts = re.findall(r"([0-9]+(?:\.[0-9]*)?)([hms]?)", cleaned)
    if not parts or "".join(number + unit for number, unit in parts) != cleaned:
        raise UsageError(f"expected a duration such as 90s, 2m or 1h30m, not {text!r}")
    units = [unit for _, unit in parts]
    # "1h30" is 1 h 30 m to some and 1 h 30 s to others; "2m2m" is a slip: each unit once,
    # the larger first, and a bare number of seconds only alone.
    if len(parts) > 1 and (
        "" in units or units != sorted(units, key="hms".index) or len(set(units)) < len(units)
    ):
        raise UsageError(
            f"cannot read {text.strip()!r} as a duration: give each number its unit once, "
            "hours then minutes then seconds (1h30m, 2m30s)"
        )
    seconds = math.fsum(float(number) * DURATION_UNITS[unit] for number, unit in parts)
    if not 0 < seconds < math.inf:
        raise UsageError(f"a budget is more than no time at all, not {text!r}")
    return seconds


def blas_choices(text: str | None, max_cores: int) -> tuple[int, ...]:
    """The BLAS values to search: none for None or blank, BLAS_DEFAULTS up to the most cores
    for "auto", else a list or range as `--cores` reads them ("1,2,4", "1-4")."""
    if text is None or not text.strip():
        return ()
    if text.strip().lower() == "auto":
        return tuple(b for b in BLAS_DEFAULTS if b <= max_cores)
    try:
        return parse_cores(text, max_cores * CORES_PER_CORE)  # read as counts of threads
    except UsageError as exc:
        raise UsageError(f"cannot read the BLAS threads {text.strip()!r}: {exc}") from None


def grid_cores(max_cores: int) -> tuple[int, ...]:
    """The core counts the search and the exhaustive grid consider: the powers of two up to
    the most, and the most itself (a sweep's "pow2")."""
    return parse_cores("pow2", max_cores)


def splits(cores: int, knobs: frozenset[str]) -> list[tuple[int, int]]:
    """Every (training, evaluation) split of `cores` that the knobs allow, t x e = cores."""
    divisors = (t for t in range(1, cores + 1) if cores % t == 0)
    return [split for t in divisors if allowed(split := (t, cores // t), knobs)]


@dataclass(frozen=True)
class MedianInterval:
    low: float
    high: float
    confidence: float  # the interval's own coverage: at least CONFIDENCE, or min to max's

    def to_dict(self) -> dict[str, Any]:
        return {
            "low": self.low,
            "high": self.high,
            "confidence": self.confidence,
            "method": INTERVAL_METHOD,
        }


def median_interval(times: Sequence[float], confidence: float = CONFIDENCE) -> MedianInterval:
    """[x(k), x(n+1-k)] of the sorted runs for the largest k whose coverage of the median,
    1 - 2 P(Binomial(n, 1/2) < k), is at least `confidence`. Fewer than 6 runs cannot reach
    95 %: then it is min to max, with the coverage it has (75 % with 3 runs)."""
    ordered = sorted(times)
    n = len(ordered)
    k, coverage = 1, 1 - 2 * 0.5**n
    while k + 1 <= n // 2:
        wider = 1 - 2 * sum(comb(n, i) for i in range(k + 1)) / 2**n
        if wider < confidence:
            break
        k, coverage = k + 1, wider
    return MedianInterval(ordered[k - 1], ordered[n - k], coverage)


@dataclass(frozen=True)
class MeasuredPredicted:
    """One measured core count: its fastest setting's median beside the model's time."""

    cores: int
    setting: Setting
    measured: float
    predicted: Prediction

    @property
    def error(self) -> float:
        """(predicted - measured) / measured."""
        return (self.predicted.time.value - self.measured) / self.measured

    def to_dict(self) -> dict[str, Any]:
        return {
            "cores": self.cores,
            "setting": self.setting.to_dict(),
            "measured": self.measured,
            "predicted": self.predicted.time.to_dict(),
            "error": self.error,
        }


@dataclass(frozen=True)
class Advice:
    request: AdviceRequest
    best: Trial  # the recommendation, measured
    baseline: Trial | None  # the 1 x 1
    trials: tuple[Trial, ...]  # every measured trial (merged per setting), in order measured
    model: ScalingModel | None  # on the best time per core count
    stopped: str  # SETTLED, BUDGET, or how the user or a failure stopped it (cancelled ...)
    spent: float
    notes: tuple[str, ...] = ()  # how the search ended, in sentences
    batches: int = 0

    @property
    def runs(self) -> int:
        return sum(t.n for t in self.trials)

    @property
    def interval(self) -> MedianInterval:
        return median_interval(self.best.times)

    @property
    def speedup(self) -> float | None:
        """The baseline's median over the best's; None without a 1 x 1."""
        return None if self.baseline is None else self.baseline.median / self.best.median

    @property
    def cores_in_use(self) -> int:
        """The cores the recommendation keeps busy: its threads (training x evaluation x
        BLAS), up to the most it may use. 1 x 1 with 2 BLAS threads uses 2 cores, not 1."""
        return min(self.best.setting.threads, self.request.max_cores)

    @property
    def efficiency(self) -> float | None:
        """Speed-up per core in use."""
        speedup = self.speedup
        return None if speedup is None else speedup / self.cores_in_use

    @property
    def knee(self) -> Knee | None:
        return None if self.model is None else self.model.knee(self.request.max_cores)

    @property
    def memory(self) -> tuple[int, bool] | None:
        """Peak bytes at the recommendation, and whether measured (else estimated)."""
        if self.best.memory is not None:
            return self.best.memory, True
        estimate = MemoryEstimate.of(self.trials).predict(self.best.setting)
        return None if estimate is None else (estimate, False)

    def measured_predicted(self) -> list[MeasuredPredicted]:
        """Each measured core count's fastest setting against the model's prediction."""
        if self.model is None:
            return []
        return [
            MeasuredPredicted(
                cores,
                trial.setting,
                trial.median,
                self.model.predict(cores, self.request.max_cores),
            )
            for cores, trial in sorted(fastest_per_cores(self.trials).items())
        ]

    def to_dict(self) -> dict[str, Any]:
        """Strict JSON: no NaN or infinity anywhere. `from_dict` refits the model from the
        trials (it is a deterministic function of them) rather than reading it back."""
        memory = self.memory
        knee = self.knee
        return {
            "request": self.request.to_dict(),
            "best": self.best.to_dict(),
            "baseline": self.baseline.to_dict() if self.baseline else None,
            "trials": [t.to_dict() for t in self.trials],
            "stopped": self.stopped,
            "spent": self.spent,
            "batches": self.batches,
            "runs": self.runs,
            "notes": list(self.notes),
            "interval": self.interval.to_dict(),
            "speedup": self.speedup,
            "efficiency": self.efficiency,
            "knee": knee.to_dict() if knee else None,
            "memory": None if memory is None else {"bytes": memory[0], "measured": memory[1]},
            "measured_predicted": [m.to_dict() for m in self.measured_predicted()],
            "model": self.model.to_dict(self.request.max_cores) if self.model else None,
            "code": code_lines(self.best.setting, self.request.knobs),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Advice:
        trials = tuple(Trial.from_dict(t) for t in data["trials"])
        baseline = data.get("baseline")
        return cls(
            request=AdviceRequest.from_dict(data["request"]),
            best=Trial.from_dict(data["best"]),
            baseline=Trial.from_dict(baseline) if baseline else None,
            trials=trials,
            model=scaling_model(trials),
            stopped=str(data["stopped"]),
            spent=float(data["spent"]),
            notes=tuple(str(n) for n in data.get("notes", ())),
            batches=int(data.get("batches", 0)),
        )

    def lines(self, estimator_param: str = "n_jobs") -> list[str]:
        """The advice as a person reads it, plain text."""
        best, request = self.best, self.request
        interval = self.interval
        cores = self.cores_in_use
        lines = [
            f"recommended: training {best.setting.train} x evaluation {best.setting.eval}"
            + (f", BLAS threads {best.setting.blas}" if best.setting.blas is not None else "")
            + f" = {counted(cores, 'core')} of {request.max_cores}",
            f"measured: {best.median:.3f} s, median of {best.n} "
            f"{'run' if best.n == 1 else 'runs'}; interval {interval.low:.3f} to "
            f"{interval.high:.3f} s ({interval.confidence:.0%}: order statistics of the median)",
        ]
        if self.baseline is not None and self.speedup is not None:
            lines.append(
                f"speed-up: {self.speedup:.2f}x over 1 x 1 ({self.baseline.median:.3f} s), "
                f"efficiency {self.efficiency:.0%}"
            )
        memory = self.memory
        if memory is not None:
            lines.append(
                f"memory: {memory[0] / 2**20:,.0f} MiB peak "
                f"({'measured' if memory[1] else 'estimated'})"
            )
        lines.append("in code:")
        lines += [
            "  " + line
            for line in code_lines(best.setting, request.knobs, estimator_param=estimator_param)
        ]
        compared = self.measured_predicted()
        if compared:
            lines.append(
                "measured against predicted (fastest setting of each core count; the "
                "prediction's error in per cent of the measured time):"
            )
            for m in compared:
                count = f"{m.cores} {'core' if m.cores == 1 else 'cores'}"
                lines.append(
                    f"  {count}, {m.setting.label()}: measured {m.measured:.3f} s, "
                    f"predicted {m.predicted.time.value:.3f} s ({m.error:+.1%})"
                )
        baseline = None if self.baseline is None else self.baseline.median
        lines += model_lines(self.model, request.max_cores, baseline=baseline)
        ended = {SETTLED: "settled", BUDGET: "stopped by the budget"}.get(
            self.stopped, self.stopped
        )
        lines.append(
            f"search: {ended} after {self.runs} runs of {len(self.trials)} settings in "
            f"{self.batches} batches, {self.spent:.1f} s of the {request.budget:.0f} s budget"
        )
        return lines + [f"note: {n}" for n in self.notes]


def code_lines(
    setting: Setting, knobs: frozenset[str], *, estimator_param: str = "n_jobs"
) -> list[str]:
    """The lines to put in code for a setting: the estimator's and the evaluation's n_jobs,
    and where BLAS is set, the thread limits (joblib's for evaluation workers, threadpoolctl's
    for the process itself)."""
    lines = []
    if "train" in knobs:
        lines.append(f"estimator: {estimator_param}={setting.train}")
    if "eval" in knobs:
        lines.append(f"evaluation (cross_val_score / GridSearchCV): n_jobs={setting.eval}")
    if setting.blas is not None:
        if setting.eval > 1:
            lines.append(
                f"with parallel_config(inner_max_num_threads={setting.blas}): ...  "
                "# joblib: BLAS threads in each evaluation worker"
            )
        lines.append(
            f"with threadpool_limits(limits={setting.blas}): ...  # threadpoolctl: this process"
        )
    return lines


def fastest_per_cores(trials: Iterable[Trial]) -> dict[int, Trial]:
    """The trial with the lowest median at each core count."""
    fastest: dict[int, Trial] = {}
    for trial in trials:
        known = fastest.get(trial.setting.cores)
        if known is None or trial.median < known.median:
            fastest[trial.setting.cores] = trial
    return fastest


def scaling_model(trials: Iterable[Trial], resamples: int | None = None) -> ScalingModel | None:
    """`fit_scaling` on the best time per core count (the fastest setting's runs)."""
    points = [(c, t.times) for c, t in sorted(fastest_per_cores(trials).items())]
    return fit_scaling(points) if resamples is None else fit_scaling(points, resamples=resamples)


@dataclass(frozen=True)
class MemoryEstimate:
    """Peak memory as a straight line in the core count, a + b p with b >= 0, through the
    largest measured peak of each count; from one count only, proportional to the cores
    (each core a process with its own copy: the cautious guess)."""

    measured: dict[Setting, int]
    intercept: float
    slope: float

    @classmethod
    def of(cls, trials: Iterable[Trial]) -> MemoryEstimate:
        measured = {t.setting: t.memory for t in trials if t.memory is not None}
        peaks: dict[int, int] = {}
        for setting, memory in measured.items():
            peaks[setting.cores] = max(memory, peaks.get(setting.cores, 0))
        if not peaks:
            return cls(measured, 0.0, 0.0)
        if len(peaks) == 1:
            [(cores, memory)] = peaks.items()
            return cls(measured, 0.0, memory / cores)
        xs, ys = list(peaks), list(peaks.values())
        x_mean, y_mean = statistics.fmean(xs), statistics.fmean(ys)
        sxx = math.fsum((x - x_mean) ** 2 for x in xs)
        slope = max(0.0, math.fsum((x - x_mean) * (y - y_mean) for x, y in peaks.items()) / sxx)
        # Through the highest peak above the line, so that no measured count is underestimated.
        intercept = max(y - slope * x for x, y in peaks.items())
        return cls(measured, intercept, slope)

    def predict(self, setting: Setting) -> int | None:
        if setting in self.measured:
            return self.measured[setting]
        if not self.measured:
            return None
        return round(self.intercept + self.slope * setting.cores)

    def fits(self, setting: Setting, limit: int | None) -> bool:
        predicted = self.predict(setting)
        return limit is None or predicted is None or predicted <= limit


def advise(
    request: AdviceRequest, measurer: Measurer, on_step: Callable[[str], None] | None = None
) -> Advice:
    """Search for the fastest setting within the request's budget; see the module's docstring.
    Raises BudgetExhausted when the budget did not pay for a single run."""
    return _Search(request, measurer, on_step or (lambda _: None)).run()


class _Search:
    def __init__(
        self, request: AdviceRequest, measurer: Measurer, on_step: Callable[[str], None]
    ) -> None:
        self.request = request
        self.measurer = measurer
        self.step = on_step
        self.times: dict[Setting, list[float]] = {}  # in the order first measured
        self.memory: dict[Setting, int] = {}
        self.contenders: list[Setting] = []  # the candidates still in the running
        self.notes: list[str] = []
        self.estimates: dict[Setting, float] = {}  # a run's seconds, before it is measured
        self.batches = 0
        self.exhausted: str | None = None  # why the measurer raised BudgetExhausted
        self.unaffordable = False  # a round did not fit the budget left
        self.curve: dict[int, float] = {}  # phase 1's time at each thread count
        self.curve_settings: list[Setting] = []
        self.rounds = 0
        self.last = ""  # how the halving ended
        # The last candidates could not be told apart: the simplest of them wins.
        self.tied = False

    # Measuring.

    def measure(self, settings: Sequence[Setting], repeats: int) -> bool:
        """One batch; False when the budget ran out during it (its finished runs are kept)."""
        self.batches += 1
        try:
            trials = self.measurer.measure(settings, repeats)
        except BudgetExhausted as exc:
            self.record(exc.trials)
            self.exhausted = exc.reason
            return False
        self.record(trials)
        return True

    def record(self, trials: Iterable[Trial]) -> None:
        for trial in trials:
            self.times.setdefault(trial.setting, []).extend(trial.times)
            if trial.memory is not None:
                self.memory[trial.setting] = max(trial.memory, self.memory.get(trial.setting, 0))

    def trial(self, setting: Setting) -> Trial:
        return Trial(setting, tuple(self.times[setting]), self.memory.get(setting))

    def trials(self) -> list[Trial]:
        return [self.trial(s) for s in self.times if self.times[s]]

    def median(self, setting: Setting) -> float:
        return statistics.median(self.times[setting])

    def left(self) -> float:
        return self.request.budget - self.measurer.spent()

    def overhead(self) -> float:
        """A batch's cost beyond its runs, as measured so far: spent less the runs' times."""
        runs = math.fsum(t for ts in self.times.values() for t in ts)
        return max(0.0, self.measurer.spent() - runs) / max(1, self.batches)

    # The search.

    def run(self) -> Advice:
        request = self.request
        blas = request.blas_values()[0]
        main = "eval" if "eval" in request.knobs else "train"
        counts = curve_counts(request.max_cores)
        curve = [Setting(p, 1, blas) if main == "train" else Setting(1, p, blas) for p in counts]
        self.step(
            f"the curve: {', '.join(s.label() for s in curve)}, once each, "
            f"all cores to {'evaluation' if main == 'eval' else 'training'}"
        )
        self.contenders = self.curve_settings = curve
        if self.measure(curve, 1):
            self.curve = self.curve_estimates(curve)
            self.split()
        return self.finish()

    def curve_estimates(self, curve: list[Setting]) -> dict[int, float]:
        """The curve's time at each thread count of the grid: measured, else the model's."""
        measured = {s.threads: self.median(s) for s in curve if s in self.times}
        model = scaling_model(self.trials(), resamples=1)
        blas = curve[0].blas or 1
        estimates = dict(measured)
        for p in grid_cores(self.request.max_cores):
            if p * blas not in estimates and model is not None:
                estimates[p * blas] = model.best.time(p)
        return estimates

    def next_pool(self, searched: set[int], winner: Setting) -> tuple[int, list[Setting]] | None:
        """The next thread count to search, and its candidates; None when none is promising.

        First the curve's fastest count. Then, while the winner so far is at the highest
        count searched, a climb: the count a curve step up (or the most). Then the winner's
        neighbours: the next count up, and the next count down. Up only where the curve is at
        most CLIMB slower there, unless the winner is not the curve's own setting; down only
        where the curve is within PROMISING. Then any count the curve makes promising: its
        time scaled by the most a searched count gained from its best split over the curve's
        comes within PROMISING of the best time so far."""
        counts = sorted(self.curve)
        by_curve = sorted(counts, key=self.curve.__getitem__)
        if not searched:
            order = [winner.threads, *by_curve]
        else:
            at = counts.index(winner.threads)
            here = self.curve[winner.threads]
            order = []
            up = [counts[min(at + 2, len(counts) - 1)]] if winner.threads == max(searched) else []
            up += counts[at + 1 : at + 2]
            # The curve speaks for more cores only where the winner is its own setting: a
            # curve flat in one knob hides what the others can add.
            if winner not in self.curve_settings:
                order += up
            else:
                order += [n for n in up if self.curve[n] <= here * (1 + CLIMB)]
            if at > 0 and self.curve[counts[at - 1]] <= here * (1 + PROMISING):
                order.append(counts[at - 1])
            gain = min(
                (
                    min(self.median(s) for s in self.times if s.threads == n) / self.curve[n]
                    for n in {s.threads for s in self.times} & searched
                ),
                default=1.0,
            )
            best = self.median(winner) * (1 + PROMISING)
            order += [n for n in by_curve if self.curve[n] * gain <= best]
        memory = MemoryEstimate.of(self.trials())
        for n in order:
            if n in searched:
                continue
            pool = [
                s
                for s in self.request.space()
                if s.threads == n and memory.fits(s, self.request.memory_limit)
            ]
            if pool:
                return n, pool
            searched.add(n)
        return None

    def split(self) -> None:
        """Round 1 of the halving, count by count: every candidate at the most promising count
        once, then at each next promising count while the budget left pays for it and for the
        rounds after. Then the rest of the halving, from the better half of what was measured
        (at most FIELD candidates in its first paid round)."""
        searched: set[int] = set()
        unit = "thread" if self.request.blas else "core"
        while (found := self.next_pool(searched, self.leader())) is not None:
            threads, pool = found
            ratio = self.cost_ratio(searched, threads)
            for s in pool:
                self.estimates[s] = self.curve[threads] * ratio
            new = [s for s in pool if s not in self.times]
            cost = self.overhead() + math.fsum(self.estimates[s] for s in new)
            after = self.halving_cost(self.field(new), first_round=False)
            if searched and cost + after > self.left():
                self.unaffordable = True
                self.notes.append(
                    f"the budget left could not pay for the splits of {counted(threads, unit)}, "
                    "promising too"
                )
                break
            searched.add(threads)
            self.step(f"{counted(len(pool), 'split')} of {counted(threads, unit)}, once each")
            if new and not self.measure(new, 1):
                return
        field = self.field()
        self.step(f"successive halving from the best {len(field)} of {len(self.times)} settings")
        self.halve(field)

    def leader(self) -> Setting:
        return min(self.times, key=self.median)

    def field(self, extra: Sequence[Setting] = ()) -> list[Setting]:
        """Where the halving starts: the faster half of the settings measured (and `extra`
        ones, by their estimates), at most 2 x FIELD (its first round halves them again)."""
        memory = MemoryEstimate.of(self.trials())
        ranked = sorted(
            (s for s in [*self.times, *extra] if memory.fits(s, self.request.memory_limit)),
            key=self.estimate,
        )
        return ranked[: min(2 * FIELD, max(2, math.ceil(len(ranked) / 2)))]

    def cost_ratio(self, searched: set[int], threads: int) -> float:
        """What a candidate's run at `threads` costs against the curve there: at the searched
        count nearest it (in ratio), the median of its candidates' first runs over the
        curve's time; 1 before any count is searched."""
        measured = {s.threads for s in self.times} & searched
        if not measured:
            return 1.0
        nearest = min(measured, key=lambda n: abs(math.log(n / threads)))
        return statistics.median(
            times[0] / self.curve[nearest]
            for s, times in self.times.items()
            if s.threads == nearest and times
        )

    def halve(self, candidates: list[Setting]) -> None:
        """Successive halving; `contenders` ends as the winner, or those tied with it."""
        survivors = candidates
        repeats = 1
        while True:
            self.rounds += 1
            fitted = self.affordable(survivors, repeats)
            # Short of the doubled repeats, fewer may still fit: the most that do.
            have = min(len(self.times.get(s, ())) for s in survivors)
            for fewer in range(repeats - 1, have, -1):
                if fitted:
                    break
                repeats, fitted = fewer, self.affordable(survivors, fewer)
            if not fitted:
                self.unaffordable = True
                self.notes.append(
                    f"the budget could not pay for round {self.rounds} ({repeats} runs each): "
                    "the best so far is recommended"
                )
                leader = min(survivors, key=self.median)
                self.contenders = [leader]
                # Its interval still wants the final comparison's runs, where they fit.
                short = self.request.repeats - len(self.times[leader])
                if short > 0 and self.affordable([leader], self.request.repeats):
                    self.measure([leader], short)
                return
            survivors = fitted
            self.contenders = survivors
            lacking = [s for s in survivors if len(self.times.get(s, ())) < repeats]
            if lacking:
                for need, group in _by_need(lacking, repeats, self.times).items():
                    if not self.measure(group, need):
                        return
            survivors.sort(key=self.median)
            self.contenders = survivors
            if len(survivors) == 1:
                return
            if repeats >= self.request.repeats:
                close = self.close(survivors)
                if len(close) == len(survivors):
                    self.contenders, self.tied = close, True
                    self.last = (
                        f"the last {len(close)} candidates were within {CLOSE:.1%} of each "
                        f"other after {repeats} runs each, not significantly different: "
                        "more runs would not change the advice"
                    )
                    return
                if len(survivors) == 2:
                    if self.significant(*survivors) or repeats >= MAX_REPEATS:
                        self.contenders = survivors[:1]
                        self.last = (
                            f"{survivors[0].label()} beat {survivors[1].label()} in the final "
                            f"comparison ({repeats} runs each)"
                        )
                        return
                    repeats *= 2  # close, and undecided: more runs where it matters
                    continue
            survivors = survivors[: max(2, math.ceil(len(survivors) / 2))]
            repeats *= 2
            if len(survivors) == 2:
                repeats = max(repeats, self.request.repeats)

    def halving_cost(self, candidates: list[Setting], first_round: bool = True) -> float:
        """What successive halving over `candidates` would cost by their estimated times;
        without `first_round`, the rounds after their first run only."""
        taus = sorted(self.estimate(s) for s in candidates)
        unmeasured = [self.estimates[s] for s in candidates if s not in self.times]
        cost = self.overhead() + math.fsum(unmeasured) if first_round and unmeasured else 0.0
        n, repeats = len(taus), 1
        while n > 2:
            n = max(2, math.ceil(n / 2))
            done, repeats = repeats, repeats * 2
            if n == 2:
                repeats = max(repeats, self.request.repeats)
            cost += self.overhead() + (repeats - done) * math.fsum(taus[:n])
        return cost

    def affordable(self, survivors: list[Setting], repeats: int) -> list[Setting]:
        """The survivors narrowed, best first, until the round's runs fit the budget left;
        empty when not even the best two fit."""
        ranked = sorted(survivors, key=lambda s: self.median(s) if s in self.times else math.inf)
        while True:
            cost = self.overhead() + math.fsum(
                (repeats - len(self.times.get(s, ()))) * self.estimate(s)
                for s in ranked
                if len(self.times.get(s, ())) < repeats
            )
            if cost <= self.left():
                return ranked
            if len(ranked) <= 2:
                return []
            ranked = ranked[: max(2, math.ceil(len(ranked) / 2))]

    def estimate(self, setting: Setting) -> float:
        return self.median(setting) if setting in self.times else self.estimates[setting]

    def significant(self, a: Setting, b: Setting) -> bool:
        return mann_whitney(self.times[a], self.times[b]).p_value < ALPHA

    def close(self, ranked: list[Setting]) -> list[Setting]:
        """The fastest of the ranked survivors, and those close to it: not significantly
        different, and the Hodges-Lehmann shift within CLOSE of the fastest's median."""
        best = ranked[0]
        limit = CLOSE * self.median(best)
        return [best] + [
            s
            for s in ranked[1:]
            if not self.significant(best, s)
            and hodges_lehmann(self.times[best], self.times[s]).estimate <= limit
        ]

    def as_fast(self, ranked: list[Setting]) -> list[Setting]:
        """The fastest of the ranked survivors, and those shown to be as fast: not
        significantly different, and the 95 % interval of the Hodges-Lehmann shift within
        AS_FAST of the fastest's median (too few runs for an interval: not shown)."""
        best = ranked[0]
        limit = AS_FAST * self.median(best)
        tied = [best]
        for s in ranked[1:]:
            shift = hodges_lehmann(self.times[best], self.times[s])
            if (
                shift.low is not None
                and shift.high is not None
                and -limit <= shift.low
                and shift.high <= limit
                and not self.significant(best, s)
            ):
                tied.append(s)
        return tied

    def finish(self) -> Advice:
        trials = self.trials()
        if not trials:
            raise BudgetExhausted((), self.exhausted or BUDGET)
        memory = MemoryEstimate.of(trials)
        limit = self.request.memory_limit
        allowed = [s for s in self.times if self.times[s] and memory.fits(s, limit)]
        if not allowed:
            raise UsageError(
                "every setting measured needs more memory than the limit: even "
                f"{min(self.times).label()}; raise the limit or use smaller data"
            )
        if self.last:
            self.notes.append(self.last)
        pool = [s for s in self.contenders if s in allowed] or allowed
        ranked = sorted(pool, key=self.median)
        tied = self.tied and set(ranked) <= set(self.contenders)
        chosen = min(ranked if tied else self.as_fast(ranked), key=Setting.simplicity)
        if chosen != ranked[0]:
            alike = (
                f"within {CLOSE:.1%} and not significantly different"
                if tied
                else f"the 95 % interval of the difference within {AS_FAST:.0%}"
            )
            self.notes.append(
                f"{chosen.label()} is as fast as {ranked[0].label()}, the fastest measured "
                f"({alike}): the simpler, with fewer cores, is recommended"
            )
        stopped = self.exhausted or (BUDGET if self.unaffordable else SETTLED)
        if self.exhausted == BUDGET:
            self.notes.append("the budget ran out during a batch: the best so far is recommended")
        elif self.exhausted:
            self.notes.append(f"the search was {self.exhausted}: the best so far is recommended")
        baseline = Setting(1, 1, self.request.blas_values()[0])
        return Advice(
            request=self.request,
            best=self.trial(chosen),
            baseline=self.trial(baseline) if baseline in self.times else None,
            trials=tuple(trials),
            model=scaling_model(trials),
            stopped=stopped,
            spent=self.measurer.spent(),
            notes=tuple(self.notes),
            batches=self.batches,
        )


def curve_counts(max_cores: int) -> list[int]:
    """Phase 1's core counts, cheapest first: the most, a CURVE_STEP-th of it and so on
    (powers of two), CURVE_COUNTS at most, then 1."""
    counts = [max_cores]
    p = 1 << (max_cores.bit_length() - 1)
    p = p // CURVE_STEP if p == max_cores else p
    while p > 1 and len(counts) < CURVE_COUNTS:
        counts.append(p)
        p //= CURVE_STEP
    return [*counts, 1] if max_cores > 1 else counts


def _by_need(
    settings: list[Setting], repeats: int, times: dict[Setting, list[float]]
) -> dict[int, list[Setting]]:
    """Settings grouped by the runs each lacks to reach `repeats`: one batch a group."""
    groups: dict[int, list[Setting]] = {}
    for s in settings:
        groups.setdefault(repeats - len(times.get(s, ())), []).append(s)
    return groups


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)
