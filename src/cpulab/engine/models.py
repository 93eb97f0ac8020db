"""Scaling models fitted to measured times: Amdahl's law and the Universal Scalability Law.

The USL gives the speed-up on p cores as X(p) = p / (1 + s(p-1) + k p(p-1)): `s` is the serial
fraction (contention), `k` the cost of keeping cores coherent (crosstalk). Amdahl's law is its
k = 0 case. As a time, T(p) = T1 (1 + s(p-1) + k p(p-1)) / p = T1 s + T1 (1-s) / p + T1 k (p-1),
which is linear in (T1 s, T1 (1-s), T1 k). So the weighted least squares fit is a least squares
problem with the three coefficients held non-negative (s in [0, 1], k >= 0): solved exactly, and
deterministically, by trying each set of free coefficients on a 3x3 system. No iteration, no
starting guess, and fast enough to refit hundreds of bootstrap resamples in a blink.

T1, the one-core time, is fitted with the rest rather than taken from the 1x1 point: that point
is one noisy measurement like any other, fixing the curve to it would hand its noise to every
prediction, and a sweep need not have measured one core at all.

Standard library only: the UI process uses this too, and it never imports numpy.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from cpulab.engine.events import Result
from cpulab.engine.stats import (
    MAD_TO_SIGMA,
    SIGMA_FLOOR,
    SIGMA_MIN,
    PointStats,
    ScalingReport,
    analyse_results,
)

USL = "usl"
AMDAHL = "amdahl"
# Three parameters, and one more core count to check them.
ENOUGH_CORE_COUNTS = 4
# The knee: the fewest cores whose predicted time is within this fraction of the best.
KNEE_TOLERANCE = 0.10
# A peak up to this many times the largest measured core count is "near" the measured range.
NEAR_PEAK_FACTOR = 2.0
# Karp-Flatt values "rise" when this share of pairs, net, rise with the core count (Kendall's tau).
RISING_TAU = 0.6
RESAMPLES = 200
CONFIDENCE = 0.95
# Models within this much AICc are about equally supported (Burnham and Anderson's rule of
# thumb): the simpler, Amdahl's law, stands unless the USL beats it by more.
AICC_MARGIN = 2.0
# Below this relative pivot a coefficient is not determined by the points (too few core counts).
SINGULAR = 1e-10


@dataclass(frozen=True)
class Estimate:
    """A value with its bootstrap percentile interval; an end may be infinite (unbounded)."""

    value: float
    low: float
    high: float

    def to_dict(self) -> dict[str, float | None]:
        return {"value": _finite(self.value), "low": _finite(self.low), "high": _finite(self.high)}


@dataclass(frozen=True)
class ModelPoint:
    """One core count as the models see it: the runs kept, their mean, and the noise of one run."""

    cores: int
    times: tuple[float, ...]
    mean: float
    sigma: float  # robust, with the same floor as the engine's Amdahl fit
    dropped: int  # runs left out: statistical outliers and a slow first run

    @property
    def n(self) -> int:
        return len(self.times)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cores": self.cores,
            "n": self.n,
            "mean": self.mean,
            "sigma": self.sigma,
            "dropped": self.dropped,
        }


@dataclass(frozen=True)
class ModelFit:
    """One model's parameters, how well it fits, and its bootstrap refits."""

    name: str  # USL or AMDAHL
    t1: Estimate  # seconds on one core
    s: Estimate  # serial fraction
    k: Estimate  # crosstalk; 0 for Amdahl
    chi_squared: float  # weighted, over every run kept
    aicc: float | None  # None when there are too few runs to judge this many parameters
    n_params: int
    samples: tuple[tuple[float, float, float], ...] = field(repr=False, compare=False)

    def time(self, cores: float) -> float:
        return _time(self.t1.value, self.s.value, self.k.value, cores)

    @property
    def peak(self) -> float | None:
        """p* = sqrt((1 - s) / k), the core count of the highest speed-up; None when k = 0."""
        return _peak(self.s.value, self.k.value)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "t1": self.t1.to_dict(),
            "s": self.s.to_dict(),
            "k": self.k.to_dict(),
            "peak": _finite(self.peak),
            "chi_squared": self.chi_squared,
            "aicc": self.aicc,
            "n_params": self.n_params,
        }


@dataclass(frozen=True)
class Prediction:
    """Time, speed-up (against the fitted T1) and efficiency on some number of cores."""

    cores: int
    time: Estimate
    speedup: Estimate
    efficiency: Estimate
    measured: bool  # this core count was measured
    extrapolated: bool  # outside the measured range of core counts
    beyond_machine: bool  # more cores than the machine has

    def to_dict(self) -> dict[str, Any]:
        return {
            "cores": self.cores,
            "time": self.time.to_dict(),
            "speedup": self.speedup.to_dict(),
            "efficiency": self.efficiency.to_dict(),
            "measured": self.measured,
            "extrapolated": self.extrapolated,
            "beyond_machine": self.beyond_machine,
        }


@dataclass(frozen=True)
class Knee:
    """The fewest cores within `tolerance` of the best predicted time on up to `limit`
    cores (the machine's, or the most measured), and what the rest buy."""

    cores: int
    time: float
    best_cores: int
    best_time: float
    tolerance: float
    limit: int

    @property
    def gain(self) -> float:
        """The share of the knee's time that the cores beyond it save."""
        return (self.time - self.best_time) / self.time if self.time > 0 else 0.0

    def sentence(self) -> str:
        extra = self.best_cores - self.cores
        # "up to": a prediction beyond the machine may be faster still.
        best = f"the best predicted time up to {_cores(self.limit)}"
        if extra == 0:
            return f"{best} is at {_cores(self.cores)}"
        come = "core comes" if self.cores == 1 else "cores come"
        buy = "core buys" if extra == 1 else "cores buy"
        return (
            f"{self.cores} {come} within {self.tolerance:.0%} of {best} "
            f"({_cores(self.best_cores)}): the last {extra} {buy} {self.gain:.1%}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "cores": self.cores,
            "time": self.time,
            "best_cores": self.best_cores,
            "best_time": self.best_time,
            "tolerance": self.tolerance,
            "limit": self.limit,
            "gain": self.gain,
            "sentence": self.sentence(),
        }


@dataclass(frozen=True)
class ScalingModel:
    """Amdahl and the USL fitted to one scaling curve, the better one chosen, and why."""

    points: tuple[ModelPoint, ...]  # by cores
    amdahl: ModelFit
    usl: ModelFit | None  # None with fewer than three core counts
    chosen: str  # USL or AMDAHL
    reason: str
    criterion: str
    resamples: int
    confidence: float
    seed: int

    @property
    def best(self) -> ModelFit:
        return self.usl if self.chosen == USL and self.usl is not None else self.amdahl

    @property
    def measured_cores(self) -> tuple[int, ...]:
        return tuple(p.cores for p in self.points)

    @property
    def peak(self) -> Estimate | None:
        """The chosen model's p*, with its interval (an infinite end: the peak may not exist)."""
        best = self.best
        if best.peak is None:
            return None
        peaks = sorted(_peak_or_inf(s, k) for _, s, k in best.samples)
        low, high = _percentiles(peaks, self.confidence)
        return Estimate(best.peak, low, high)

    def predict(self, cores: int, machine_cores: int | None = None) -> Prediction:
        """The chosen model's time, speed-up and efficiency on `cores`, each with its interval."""
        if cores < 1:
            raise ValueError("cores must be at least 1")
        best = self.best
        times = sorted(_time(t1, s, k, cores) for t1, s, k in best.samples)
        speedups = sorted(_speedup(s, k, cores) for _, s, k in best.samples)
        t_low, t_high = _percentiles(times, self.confidence)
        x_low, x_high = _percentiles(speedups, self.confidence)
        speedup = _speedup(best.s.value, best.k.value, cores)
        measured = self.measured_cores
        return Prediction(
            cores=cores,
            time=Estimate(best.time(cores), t_low, t_high),
            speedup=Estimate(speedup, x_low, x_high),
            efficiency=Estimate(speedup / cores, x_low / cores, x_high / cores),
            measured=cores in measured,
            extrapolated=not measured[0] <= cores <= measured[-1],
            beyond_machine=machine_cores is not None and cores > machine_cores,
        )

    def predictions(self, machine_cores: int, beyond: int | None = None) -> list[Prediction]:
        """Predictions at the powers of two up to the machine's cores, at its cores, and,
        marked as beyond the machine, at the powers of two up to `beyond` (default: twice)."""
        if machine_cores < 1:
            raise ValueError("machine_cores must be at least 1")
        limit = 2 * machine_cores if beyond is None else max(beyond, machine_cores)
        counts = {machine_cores, limit}
        p = 1
        while p <= limit:
            counts.add(p)
            p *= 2
        return [self.predict(c, machine_cores) for c in sorted(counts)]

    def knee(self, max_cores: int | None = None, tolerance: float = KNEE_TOLERANCE) -> Knee:
        """The fewest cores up to `max_cores` (default: the most measured) whose predicted time
        is within `tolerance` of the best predicted time over the same range."""
        limit = self.measured_cores[-1] if max_cores is None else max_cores
        if limit < 1:
            raise ValueError("max_cores must be at least 1")
        best = self.best
        times = [best.time(p) for p in range(1, limit + 1)]
        best_time = min(times)
        best_cores = times.index(best_time) + 1
        cores = next(p for p, t in enumerate(times, 1) if t <= best_time * (1 + tolerance))
        return Knee(cores, times[cores - 1], best_cores, best_time, tolerance, limit)

    def karp_flatt(self) -> list[tuple[int, float]]:
        """The experimentally determined serial fraction at each measured count above one,
        against the measured one-core mean when there is one, else the fitted T1."""
        ones = [p.mean for p in self.points if p.cores == 1]
        t1 = ones[0] if ones else self.best.t1.value
        return [
            (p.cores, (p.mean / t1 - 1 / p.cores) / (1 - 1 / p.cores))
            for p in self.points
            if p.cores > 1
        ]

    def karp_flatt_trend(self) -> str | None:
        """ "rising", "falling" or "flat" by Kendall's tau; None with fewer than three values."""
        values = [e for _, e in self.karp_flatt()]
        if len(values) < 3:
            return None
        pairs = list(combinations(values, 2))
        tau = sum((b > a) - (b < a) for a, b in pairs) / len(pairs)
        if tau >= RISING_TAU:
            return "rising"
        return "falling" if tau <= -RISING_TAU else "flat"

    @property
    def intervals_known(self) -> bool:
        """Whether every point has two runs or more: resampling a single run sees no noise,
        so with one the bootstrap's intervals shrink to the value and say nothing."""
        return all(p.n >= 2 for p in self.points)

    def warnings(self) -> list[str]:
        """Sentences for a person: what makes the model's answers less trustworthy."""
        notes = []
        if not self.intervals_known:
            notes.append(
                "a point has a single run, so its noise is unknown and the intervals are "
                "left out: measure at least 2 repeats a point (3 or more is better)"
            )
        counts = len(self.points)
        if counts < ENOUGH_CORE_COUNTS:
            more = ENOUGH_CORE_COUNTS - counts
            notes.append(
                f"only {counts} core counts were measured: {more} more ({ENOUGH_CORE_COUNTS} in "
                "all) would be enough to fit the USL's three parameters and check them"
            )
        peak = self.best.peak
        largest = self.measured_cores[-1]
        if peak is not None and peak <= largest:
            notes.append(
                f"retrograde scaling: the speed-up peaks at about {peak:.0f} cores, inside the "
                "measured range; more cores than that make it slower"
            )
        elif peak is not None and peak <= NEAR_PEAK_FACTOR * largest:
            notes.append(
                f"retrograde scaling ahead: the speed-up peaks at about {peak:.0f} cores, just "
                f"beyond the {largest} measured; more cores than that make it slower"
            )
        if self.karp_flatt_trend() == "rising":
            sign = (
                "the USL's k term"
                if self.chosen == USL
                else "a k term the points cannot yet tell from zero"
            )
            notes.append(
                "the Karp-Flatt serial fraction rises with the core count: the sign of "
                f"crosstalk between cores ({sign})"
            )
        superlinear = self._superlinear()
        if superlinear:
            notes.append(
                f"at {', '.join(map(str, superlinear))} cores the runs beat a perfect 1/p "
                "speed-up (superlinear: caches, or noise); the models cannot follow that"
            )
        if self.best.s.value >= 1:
            notes.append("the times do not fall with more cores: there is no speed-up to model")
        if any(p.dropped for p in self.points):
            dropped = sum(p.dropped for p in self.points)
            runs = "run was" if dropped == 1 else "runs were"
            notes.append(
                f"{dropped} {runs} left out of the fit (statistical outliers, or a slow first run)"
            )
        return notes

    def _superlinear(self) -> list[int]:
        t1 = self.best.t1.value
        return [
            p.cores
            for p in self.points
            if p.cores > 1 and p.mean + 2 * p.sigma / math.sqrt(p.n) < t1 / p.cores
        ]

    def to_dict(self, machine_cores: int | None = None) -> dict[str, Any]:
        """JSON-ready (no NaN or infinity: None); predictions and the knee need the machine."""
        peak = self.peak
        return {
            "points": [p.to_dict() for p in self.points],
            "amdahl": self.amdahl.to_dict(),
            "usl": self.usl.to_dict() if self.usl else None,
            "chosen": self.chosen,
            "reason": self.reason,
            "criterion": self.criterion,
            "resamples": self.resamples,
            "confidence": self.confidence,
            "seed": self.seed,
            "intervals_known": self.intervals_known,
            "peak": peak.to_dict() if peak else None,
            "karp_flatt": [{"cores": c, "value": e} for c, e in self.karp_flatt()],
            "karp_flatt_trend": self.karp_flatt_trend(),
            "predictions": (
                [p.to_dict() for p in self.predictions(machine_cores)] if machine_cores else None
            ),
            "knee": self.knee(machine_cores).to_dict(),
            "warnings": self.warnings(),
        }


def model_points(report: ScalingReport) -> list[tuple[int, tuple[float, ...]]]:
    """The points a scaling report's curve follows: the fastest split of each core count."""
    return [(cores, p.stats.times) for cores, p in report.best_per_cores.items()]


def fit_scaling(
    points: Iterable[tuple[int, Sequence[float]]],
    *,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> ScalingModel | None:
    """Fit Amdahl and the USL to (cores, measured times) points and choose between them by
    AICc (the USL only when it is lower by more than AICC_MARGIN); None with fewer than two
    core counts. Points with the same core count are pooled: pass `model_points(report)` to
    follow a report's fastest split of each count.

    Each run weighs 1 / sigma² of its point (robust, floored at 1 % of the median, as the
    engine's Amdahl fit does); runs that `PointStats` calls outliers, and a first run it
    calls slow, are left out. Intervals
    are bootstrap percentiles over `resamples` refits, each resampling every point's runs with
    replacement (and weighing them afresh), from a generator seeded with `seed`.
    """
    if resamples < 1:
        raise ValueError("resamples must be at least 1")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    model_pts = _model_points(points)
    if len(model_pts) < 2:
        return None
    data = _Data.of(model_pts)
    rng = random.Random(seed)
    boots = [_resample(model_pts, rng) for _ in range(resamples)]
    amdahl = _fit_model(AMDAHL, model_pts, data, boots, confidence)
    usl = _fit_model(USL, model_pts, data, boots, confidence) if len(model_pts) >= 3 else None
    chosen, reason = _choose(amdahl, usl)
    return ScalingModel(
        points=tuple(model_pts),
        amdahl=amdahl,
        usl=usl,
        chosen=chosen,
        reason=reason,
        criterion="AICc",
        resamples=resamples,
        confidence=confidence,
        seed=seed,
    )


def fit_usl(
    cores: Sequence[int],
    times: Sequence[float],
    weights: Sequence[float],
    *,
    contention: bool = True,
) -> tuple[float, float, float] | None:
    """(T1, s, k) of the weighted least squares fit of T(p) = T1 (1 + s(p-1) + k p(p-1)) / p
    with s in [0, 1] and k >= 0; with `contention` False, k is held at 0 (Amdahl's law).
    None when the points cannot determine the coefficients or admit no positive T1."""
    data = _Data(tuple(cores), tuple(times), tuple(weights))
    coefficients = _solve(data, 3 if contention else 2)
    return None if coefficients is None else _parameters(coefficients)


# The fit itself.


@dataclass(frozen=True)
class _Data:
    """Means of each point with weights n / sigma²: least squares on them is least squares on
    every run (the runs' scatter about their mean adds the same to every model's chi²)."""

    cores: tuple[int, ...]
    means: tuple[float, ...]
    weights: tuple[float, ...]

    @classmethod
    def of(cls, points: Sequence[ModelPoint]) -> _Data:
        return cls(
            tuple(p.cores for p in points),
            tuple(p.mean for p in points),
            tuple(p.n / p.sigma**2 for p in points),
        )


def _model_points(points: Iterable[tuple[int, Sequence[float]]]) -> list[ModelPoint]:
    pooled: dict[int, list[float]] = {}
    for cores, times in points:
        if cores < 1:
            raise ValueError("cores must be at least 1")
        if any(not (math.isfinite(t) and t > 0) for t in times):
            raise ValueError("every time must be positive and finite")
        pooled.setdefault(cores, []).extend(times)
    model_pts = []
    for cores in sorted(pooled):
        if not pooled[cores]:
            continue
        stats = PointStats.of(pooled[cores])
        # The runs PointStats judges unrepresentative stay out: outliers, and a slow first
        # run (its weight comes from the others' spread, so it would pin the mean).
        left_out = set(stats.outliers) | ({0} if stats.first_run_slow and stats.n > 1 else set())
        kept = tuple(t for i, t in enumerate(stats.times) if i not in left_out)
        sigma = _sigma(kept)
        mean = math.fsum(kept) / len(kept)
        model_pts.append(ModelPoint(cores, kept, mean, sigma, stats.n - len(kept)))
    return model_pts


def _resample(points: Sequence[ModelPoint], rng: random.Random) -> _Data:
    """Every point's runs drawn again with replacement; weights too come from the draw, since
    the fit's own weights are estimated from as few runs and vary as much."""
    means = []
    weights = []
    for p in points:
        drawn = rng.choices(p.times, k=p.n)
        mean = math.fsum(drawn) / p.n
        # Resampling n runs from n underestimates the spread of their mean by sqrt((n-1)/n):
        # the deviation is scaled back up, so that few repeats do not give narrow intervals.
        if p.n > 1:
            mean = p.mean + math.sqrt(p.n / (p.n - 1)) * (mean - p.mean)
        means.append(mean)
        weights.append(p.n / _sigma(drawn) ** 2)
    return _Data(tuple(p.cores for p in points), tuple(means), tuple(weights))


def _sigma(times: Sequence[float]) -> float:
    """The noise of one run, as the engine's Amdahl fit weighs it: robust, floored."""
    median = statistics.median(times)
    mad = statistics.median([abs(t - median) for t in times])
    return max(MAD_TO_SIGMA * mad, SIGMA_FLOOR * median, SIGMA_MIN)


def _basis(cores: int) -> tuple[float, float, float]:
    # T(p) = c0 + c1 / p + c2 (p - 1), with c0 = T1 s, c1 = T1 (1 - s), c2 = T1 k.
    return (1.0, 1.0 / cores, cores - 1.0)


def _solve(data: _Data, n_params: int) -> tuple[float, float, float] | None:
    """Non-negative weighted least squares over the first `n_params` basis functions: the
    best of the unconstrained solutions over every subset of free coefficients that stays
    non-negative is the constrained optimum. Subsets without c0 or c1 have no T1 and are out."""
    rows = [_basis(p)[:n_params] for p in data.cores]
    gram = [
        [
            math.fsum(w * r[i] * r[j] for w, r in zip(data.weights, rows, strict=True))
            for j in range(n_params)
        ]
        for i in range(n_params)
    ]
    rhs = [
        math.fsum(w * r[i] * y for w, r, y in zip(data.weights, rows, data.means, strict=True))
        for i in range(n_params)
    ]
    best: tuple[float, tuple[float, float, float]] | None = None
    for size in range(n_params, 0, -1):
        for free in combinations(range(n_params), size):
            if 0 not in free and 1 not in free:
                continue
            solution = _linear_solve(
                [[gram[i][j] for j in free] for i in free], [rhs[i] for i in free]
            )
            if solution is None or any(c < 0 for c in solution):
                continue
            coefficients = [0.0, 0.0, 0.0]
            for i, c in zip(free, solution, strict=True):
                coefficients[i] = c
            if coefficients[0] + coefficients[1] <= 0:
                continue
            chi2 = _chi_squared(data, coefficients)
            if best is None or chi2 < best[0]:
                best = (chi2, (coefficients[0], coefficients[1], coefficients[2]))
        if best is not None and size == n_params:
            break  # the unconstrained optimum is feasible: nothing can beat it
    return None if best is None else best[1]


def _linear_solve(matrix: list[list[float]], rhs: list[float]) -> list[float] | None:
    """Gaussian elimination with partial pivoting on a small symmetric positive system, scaled
    to a unit diagonal first; None when it is singular (a coefficient the points leave open)."""
    n = len(rhs)
    scale = [math.sqrt(matrix[i][i]) if matrix[i][i] > 0 else 0.0 for i in range(n)]
    if any(d == 0 for d in scale):
        return None
    a = [
        [matrix[i][j] / (scale[i] * scale[j]) for j in range(n)] + [rhs[i] / scale[i]]
        for i in range(n)
    ]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        if abs(a[pivot][col]) < SINGULAR:
            return None
        a[col], a[pivot] = a[pivot], a[col]
        for r in range(col + 1, n):
            factor = a[r][col] / a[col][col]
            for c in range(col, n + 1):
                a[r][c] -= factor * a[col][c]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (a[r][n] - math.fsum(a[r][c] * x[c] for c in range(r + 1, n))) / a[r][r]
    return [x[i] / scale[i] for i in range(n)]


def _chi_squared(data: _Data, coefficients: Sequence[float]) -> float:
    c0, c1, c2 = coefficients
    return math.fsum(
        w * (y - (c0 + c1 / p + c2 * (p - 1))) ** 2
        for p, y, w in zip(data.cores, data.means, data.weights, strict=True)
    )


def _parameters(coefficients: tuple[float, float, float]) -> tuple[float, float, float]:
    c0, c1, c2 = coefficients
    t1 = c0 + c1
    return (t1, c0 / t1, c2 / t1)


def _fit_model(
    name: str, points: Sequence[ModelPoint], data: _Data, boots: Sequence[_Data], confidence: float
) -> ModelFit:
    n_params = 3 if name == USL else 2
    coefficients = _solve(data, n_params)
    if coefficients is None:
        raise ValueError(f"the points do not determine the {name} model")
    t1, s, k = _parameters(coefficients)
    # A resample can fail to determine the model where the points did (its runs drawn so
    # that two counts' means coincide, say): it is left out of the intervals; with none
    # left, the intervals are the point estimate's own.
    refits = (_solve(boot, n_params) for boot in boots)
    samples = [_parameters(refit) for refit in refits if refit is not None] or [(t1, s, k)]
    # chi² over every run: the runs' scatter about their point's mean, plus the means' misfit.
    scatter = math.fsum(math.fsum((t - p.mean) ** 2 for t in p.times) / p.sigma**2 for p in points)
    chi2 = scatter + _chi_squared(data, coefficients)
    intervals = [_percentiles(sorted(column), confidence) for column in zip(*samples, strict=True)]
    estimates = [Estimate(v, lo, hi) for v, (lo, hi) in zip((t1, s, k), intervals, strict=True)]
    return ModelFit(
        name=name,
        t1=estimates[0],
        s=estimates[1],
        k=estimates[2],
        chi_squared=chi2,
        aicc=_aicc(chi2, sum(p.n for p in points), n_params),
        n_params=n_params,
        samples=tuple(samples),
    )


def _aicc(chi2: float, runs: int, n_params: int) -> float | None:
    """AICc of a Gaussian fit whose noise scale is estimated too (one parameter more)."""
    k = n_params + 1
    if runs - k - 1 <= 0:
        return None
    # Runs that agree exactly leave chi² at 0; a floor keeps the logarithm finite, so that the
    # penalty alone decides between two exact fits.
    likelihood = runs * math.log(max(chi2, 1e-300) / runs)
    return likelihood + 2 * k + 2 * k * (k + 1) / (runs - k - 1)


def _choose(amdahl: ModelFit, usl: ModelFit | None) -> tuple[str, str]:
    """The USL when its AICc is lower than Amdahl's law's by more than AICC_MARGIN, else
    Amdahl's law, the simpler; each reason says which rule decided."""
    if usl is None:
        return AMDAHL, "Amdahl's law: the USL needs at least three core counts"
    if usl.aicc is None or amdahl.aicc is None:
        return AMDAHL, "Amdahl's law: too few runs for AICc to judge the USL's extra parameter"
    if usl.k.value == 0:
        return AMDAHL, "Amdahl's law: the USL's best k is 0, so it adds nothing but a parameter"
    difference = amdahl.aicc - usl.aicc
    if difference > AICC_MARGIN:
        return USL, (
            f"the USL: its AICc is {difference:.1f} lower than Amdahl's law's, so its k term "
            "(crosstalk between cores) earns its extra parameter"
        )
    if difference > 0:
        return AMDAHL, (
            f"Amdahl's law: the USL's AICc is only {difference:.1f} lower, within "
            f"{AICC_MARGIN:g} of it, so the simpler model stands"
        )
    return AMDAHL, (
        f"Amdahl's law: the USL's AICc is {-difference:.1f} higher, so its k term does not earn "
        "its extra parameter"
    )


def _time(t1: float, s: float, k: float, cores: float) -> float:
    return t1 * (1 + s * (cores - 1) + k * cores * (cores - 1)) / cores


def _speedup(s: float, k: float, cores: float) -> float:
    return cores / (1 + s * (cores - 1) + k * cores * (cores - 1))


def _peak(s: float, k: float) -> float | None:
    return math.sqrt((1 - s) / k) if k > 0 else None


def _peak_or_inf(s: float, k: float) -> float:
    peak = _peak(s, k)
    return math.inf if peak is None else peak


def _percentiles(ordered: Sequence[float], confidence: float) -> tuple[float, float]:
    """The two-sided percentile interval of sorted bootstrap values, linearly interpolated."""
    tail = (1 - confidence) / 2
    return _quantile(ordered, tail), _quantile(ordered, 1 - tail)


def _quantile(ordered: Sequence[float], q: float) -> float:
    position = q * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    low, high = ordered[below], ordered[above]
    if low == high or math.isinf(high):
        return low if position == below else high
    return low + (high - low) * (position - below)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _cores(count: int) -> str:
    return f"{count} {'core' if count == 1 else 'cores'}"


def sweep_model(results: Sequence[Result]) -> ScalingModel | None:
    """The scaling model of a sweep's results, as it keeps it: its fastest split of each
    core count, with RESAMPLES refits."""
    if not results:
        return None
    try:
        return fit_scaling(model_points(analyse_results(results)))
    except (ValueError, ArithmeticError):  # points that determine no model (a time of
        return None  # 0 s in a damaged store): the sweep ends, or is edited, all the same
