"""Honest statistics for measured times, and how a task scales across cores.

Standard library only: the UI process uses this too, and it never imports numpy.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from cpulab.engine.events import Result

# Scales the MAD to a standard deviation for normally distributed times.
MAD_TO_SIGMA = 1.4826
# hyperfine's rules: a run is an outlier when its modified z-score |x - median| / MAD exceeds
# 1.4826 * 10, that is, ten robust standard deviations; the first run is slow when it is that
# far above the median. Timings have long upper tails, so a tighter cut would cry wolf.
OUTLIER_SIGMAS = 10.0
# Below this many runs the MAD is too unsteady to call any one run an outlier.
MIN_RUNS_FOR_OUTLIERS = 5
# A point's noise never counts as less than 1 % of its median (nor a nanosecond), so a point
# whose repeats agree exactly cannot outweigh every other point in the fit.
SIGMA_FLOOR = 0.01
SIGMA_MIN = 1e-9
POOR_FIT_R_SQUARED = 0.9


@dataclass(frozen=True)
class PointStats:
    """Robust summary of the measured times of one configuration, in the order they ran."""

    times: tuple[float, ...]
    median: float
    min: float
    max: float
    mad: float  # median absolute deviation, unscaled
    outliers: tuple[int, ...]  # indices into `times`
    first_run_slow: bool

    @classmethod
    def of(cls, times: Iterable[float]) -> PointStats:
        times = tuple(times)
        if not times:
            raise ValueError("no measured times")
        median = statistics.median(times)
        mad = statistics.median(abs(t - median) for t in times)
        if mad > 0:
            cut = MAD_TO_SIGMA * OUTLIER_SIGMAS
            outliers = tuple(i for i, t in enumerate(times) if abs(t - median) / mad > cut)
            first_run_slow = (times[0] - median) / mad > cut
        else:
            # hyperfine divides by machine epsilon here: with the others identical, any run
            # off the median is infinitely many deviations out.
            outliers = tuple(i for i, t in enumerate(times) if t != median)
            first_run_slow = times[0] > median
        if len(times) < MIN_RUNS_FOR_OUTLIERS:
            outliers = ()
        return cls(times, median, min(times), max(times), mad, outliers, first_run_slow)

    @property
    def n(self) -> int:
        return len(self.times)

    @property
    def sigma(self) -> float:
        """Robust standard deviation of one run."""
        return MAD_TO_SIGMA * self.mad

    def warnings(self, flags: Iterable[str] = ()) -> list[str]:
        """Sentences for a person: what makes these numbers less trustworthy."""
        notes = []
        if self.first_run_slow:
            notes.append(
                "the first run was much slower than the rest: consider more warm-up runs (--warmup)"
            )
        others = [i for i in self.outliers if not (self.first_run_slow and i == 0)]
        if others:
            besides = "besides the first, " if self.first_run_slow else ""
            verb = "is a statistical outlier" if len(others) == 1 else "are statistical outliers"
            notes.append(f"{besides}{len(others)} of {self.n} runs {verb}")
        if "noisy" in flags:
            notes.append("other processes used the CPU during this point")
        return notes

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "times": list(self.times),
            "median": self.median,
            "min": self.min,
            "max": self.max,
            "mad": self.mad,
            "outliers": list(self.outliers),
            "first_run_slow": self.first_run_slow,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PointStats:
        """Read back `to_dict`'s form (a stored analysis's)."""
        return cls(
            tuple(data["times"]),
            data["median"],
            data["min"],
            data["max"],
            data["mad"],
            tuple(data["outliers"]),
            data["first_run_slow"],
        )


@dataclass(frozen=True)
class ScalingPoint:
    """One configuration against the one-core baseline."""

    train: int
    eval: int
    stats: PointStats
    speedup: float | None  # T1 / Tp, medians; None without a 1x1 baseline
    efficiency: float | None  # speedup per core used
    karp_flatt: float | None  # experimentally determined serial fraction; None at one core
    flags: tuple[str, ...] = ()

    @property
    def cores(self) -> int:
        return self.train * self.eval

    def warnings(self) -> list[str]:
        return self.stats.warnings(self.flags)

    def to_dict(self) -> dict[str, Any]:
        return {
            "train": self.train,
            "eval": self.eval,
            "cores": self.cores,
            "stats": self.stats.to_dict(),
            "speedup": self.speedup,
            "efficiency": self.efficiency,
            "karp_flatt": self.karp_flatt,
            "flags": list(self.flags),
            "warnings": self.warnings(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScalingPoint:
        return cls(
            data["train"],
            data["eval"],
            PointStats.from_dict(data["stats"]),
            data["speedup"],
            data["efficiency"],
            data["karp_flatt"],
            tuple(data["flags"]),
        )


@dataclass(frozen=True)
class AmdahlFit:
    """T(p) = a + b/p: `a` seconds no number of cores shortens, `b` seconds they share."""

    a: float
    b: float
    r_squared: float | None  # weighted; None when every time is the same
    rms_residual: float  # seconds, unweighted
    n: int  # points fitted
    distinct_cores: int

    @property
    def serial_fraction(self) -> float | None:
        """a / (a + b), held within [0, 1]; `warnings()` says when it had to be held."""
        total = self.a + self.b
        if total <= 0:
            return None
        return min(max(self.a / total, 0.0), 1.0)

    @property
    def speedup_ceiling(self) -> float:
        """(a + b) / a, the speed-up that infinitely many cores would approach."""
        return (self.a + self.b) / self.a if self.a > 0 else math.inf

    def predict(self, cores: int) -> float:
        return self.a + self.b / cores

    def warnings(self) -> list[str]:
        notes = []
        if self.a + self.b <= 0:
            notes.append(
                "the fit predicts no time on one core (a + b <= 0): it describes nothing real"
            )
        elif self.a < 0:
            notes.append(
                f"the fit's serial time is negative ({self.a:.3g} s): these points scale better "
                "than a + b/p allows (superlinear speed-up, or noise), so the serial fraction "
                "shows as 0 and the ceiling as unbounded"
            )
        if self.b < 0:
            notes.append("times grow with more cores: there is no speed-up to predict")
        if self.n == 2:
            notes.append("the fit rests on two points only, so nothing checks it")
        elif self.r_squared is not None and self.r_squared < POOR_FIT_R_SQUARED:
            notes.append(f"a + b/p fits these points poorly (R² = {self.r_squared:.2f})")
        return notes

    def to_dict(self) -> dict[str, Any]:
        ceiling = self.speedup_ceiling
        return {
            "a": self.a,
            "b": self.b,
            "serial_fraction": self.serial_fraction,
            "speedup_ceiling": None if math.isinf(ceiling) else ceiling,  # null: unbounded
            "r_squared": self.r_squared,
            "rms_residual": self.rms_residual,
            "n": self.n,
            "distinct_cores": self.distinct_cores,
            "warnings": self.warnings(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AmdahlFit:
        return cls(
            data["a"], data["b"], data["r_squared"], data["rms_residual"], data["n"],
            data["distinct_cores"],
        )  # fmt: skip


def fit_amdahl(
    cores: Sequence[int], times: Sequence[float], sigmas: Sequence[float] | None = None
) -> AmdahlFit | None:
    """Weighted least squares of times against 1/cores; None with fewer than two core counts.

    Without `sigmas` every point weighs the same; with them, each weighs 1 / sigma².
    """
    if len(cores) != len(times) or (sigmas is not None and len(sigmas) != len(times)):
        raise ValueError("cores, times and sigmas must be the same length")
    if sigmas is not None and any(s <= 0 for s in sigmas):
        raise ValueError("every sigma must be positive")
    distinct = len(set(cores))
    if distinct < 2:
        return None
    xs = [1 / p for p in cores]
    weights = [1.0] * len(xs) if sigmas is None else [1 / s**2 for s in sigmas]
    # The 2x2 normal equations, solved about the weighted means, which keeps them well
    # conditioned when the times are large and close together.
    total = math.fsum(weights)
    x_mean = math.fsum(w * x for w, x in zip(weights, xs, strict=True)) / total
    y_mean = math.fsum(w * y for w, y in zip(weights, times, strict=True)) / total
    sxx = math.fsum(w * (x - x_mean) ** 2 for w, x in zip(weights, xs, strict=True))
    sxy = math.fsum(
        w * (x - x_mean) * (y - y_mean) for w, x, y in zip(weights, xs, times, strict=True)
    )
    b = sxy / sxx
    a = y_mean - b * x_mean
    residuals = [y - (a + b * x) for x, y in zip(xs, times, strict=True)]
    ss_res = math.fsum(w * r**2 for w, r in zip(weights, residuals, strict=True))
    ss_tot = math.fsum(w * (y - y_mean) ** 2 for w, y in zip(weights, times, strict=True))
    return AmdahlFit(
        a=a,
        b=b,
        r_squared=1 - ss_res / ss_tot if ss_tot > 0 else None,
        rms_residual=math.sqrt(math.fsum(r**2 for r in residuals) / len(residuals)),
        n=len(xs),
        distinct_cores=distinct,
    )


@dataclass(frozen=True)
class ScalingReport:
    """Speed-up, efficiency, serial fraction and the best split of one task at one scale."""

    points: tuple[ScalingPoint, ...]  # by cores used, then training cores
    baseline: PointStats | None  # the 1x1 runs, pooled when there are several
    fit: AmdahlFit | None
    best_per_cores: dict[int, ScalingPoint]  # the fastest split for each number of cores
    best: ScalingPoint | None  # the fastest point of all

    def warnings(self) -> list[str]:
        notes = []
        if self.points and self.baseline is None:
            notes.append("no 1x1 point: speed-up and efficiency need a one-core baseline")
        if self.points and self.fit is None:
            notes.append("fewer than two core counts: there is no scaling curve to fit")
        return notes + (self.fit.warnings() if self.fit else [])

    def to_dict(self) -> dict[str, Any]:
        return {
            "points": [p.to_dict() for p in self.points],
            "baseline": self.baseline.to_dict() if self.baseline else None,
            "fit": self.fit.to_dict() if self.fit else None,
            "best_per_cores": [p.to_dict() for p in self.best_per_cores.values()],
            "best": self.best.to_dict() if self.best else None,
            "warnings": self.warnings(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScalingReport:
        """Read back `to_dict`'s form: a sweep's analysis as the store keeps it. Only its
        points, baseline and fit are read: the rest follows from them, as it did."""
        points = tuple(map(ScalingPoint.from_dict, data["points"]))
        best_per_cores, best = _best_points(points)
        return cls(
            points,
            None if data["baseline"] is None else PointStats.from_dict(data["baseline"]),
            None if data["fit"] is None else AmdahlFit.from_dict(data["fit"]),
            best_per_cores,
            best,
        )


def analyse_scaling(points: Iterable[tuple[int, int, PointStats]]) -> ScalingReport:
    """Analyse (train, eval, stats) points of one task, one scale and one machine."""
    return _analyse([(train, eval_, stats, ()) for train, eval_, stats in points])


def curve_key(result: Result) -> tuple:
    """Results that may share a scaling curve: the same task, variant and scale, and where
    the data is the user's, the same file, dropped columns and kind (a variant names only
    the file and target). The one rule for the CLI's reports, the app's chart and exports."""
    data = result.options.get("data")
    same_data = (data["path"], tuple(data["drop"]), data["kind"]) if data else None
    return (result.task, result.variant, result.scale, same_data)


def analyse_results(results: Iterable[Result]) -> ScalingReport:
    """`analyse_scaling` over results of one curve, keeping their flags for the warnings."""
    results = list(results)
    if len({curve_key(r) for r in results}) > 1:
        raise ValueError(
            "results of more than one task, variant, data or scale cannot share a scaling curve"
        )
    return _analyse(
        [(r.train, r.eval, PointStats.of(r.fit_times), tuple(r.flags)) for r in results]
    )


def _analyse(entries: list[tuple[int, int, PointStats, tuple[str, ...]]]) -> ScalingReport:
    entries.sort(key=lambda e: (e[0] * e[1], e[0], e[1]))
    ones = [stats for train, eval_, stats, _ in entries if train * eval_ == 1]
    baseline = PointStats.of(t for stats in ones for t in stats.times) if ones else None
    points = tuple(
        _scaling_point(train, eval_, stats, flags, baseline)
        for train, eval_, stats, flags in entries
    )
    best_per_cores, best = _best_points(points)
    # The curve follows the fastest split of each core count: what the cores can achieve.
    # Slower splits at the same count (a grid sweep's) would fit the strategy, not scaling.
    fitted = list(best_per_cores.values())
    fit = fit_amdahl(
        [p.cores for p in fitted],
        [p.stats.median for p in fitted],
        [max(p.stats.sigma, SIGMA_FLOOR * p.stats.median, SIGMA_MIN) for p in fitted],
    )
    return ScalingReport(points, baseline, fit, best_per_cores, best)


def _best_points(
    points: Sequence[ScalingPoint],
) -> tuple[dict[int, ScalingPoint], ScalingPoint | None]:
    """The fastest point of each core count, and of all; the first of equals."""
    best_per_cores: dict[int, ScalingPoint] = {}
    for point in points:
        best = best_per_cores.get(point.cores)
        if best is None or point.stats.median < best.stats.median:
            best_per_cores[point.cores] = point
    return best_per_cores, min(points, key=lambda p: p.stats.median, default=None)


def _scaling_point(
    train: int, eval_: int, stats: PointStats, flags: tuple[str, ...], baseline: PointStats | None
) -> ScalingPoint:
    figures = against_baseline(baseline.median if baseline else None, stats.median, train * eval_)
    return ScalingPoint(train, eval_, stats, *figures, flags)


def against_baseline(
    baseline: float | None, median: float, cores: int
) -> tuple[float | None, float | None, float | None]:
    """The speed-up, efficiency and Karp-Flatt serial fraction of a median time on `cores`
    against the 1 x 1 median; None each without a baseline, and Karp-Flatt at one core."""
    if baseline is None:
        return None, None, None
    speedup = baseline / median
    karp_flatt = (1 / speedup - 1 / cores) / (1 - 1 / cores) if cores > 1 else None
    return speedup, speedup / cores, karp_flatt
