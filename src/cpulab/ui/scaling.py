"""Speedups and chart series over finished results. Plain Python: no Textual here.

A point is a task, variant (the user's data, backend, threads), scale and core split;
when a point is run again its latest result counts. The baseline of a task is its 1 x 1
point of the same variant and scale.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cpulab.engine.events import Result
from cpulab.engine.stats import AmdahlFit, analyse_results, curve_key
from cpulab.engine.tasks import Task


def latest_points(results: Iterable[Result]) -> dict[tuple, Result]:
    """The latest result of each curve and (train, eval), in first-run order."""
    points: dict[tuple, Result] = {}
    for result in results:
        points[(*curve_key(result), result.train, result.eval)] = result
    return points


def speedup(result: Result, results: Iterable[Result]) -> float | None:
    """Baseline time over this result's time, or None without a 1 x 1 point."""
    base = latest_points(results).get((*curve_key(result), 1, 1))
    return None if base is None else base.fit_time / result.fit_time


def strategy(result: Result) -> str:
    """How a split spends its cores: on training, on evaluation, or on both."""
    if result.eval == 1:
        return "train-cores"
    if result.train == 1:
        return "eval-cores"
    return "mixed"


@dataclass(frozen=True)
class Series:
    label: str
    points: tuple[tuple[int, float], ...]  # (cores used, seconds or speedup), by cores
    fit: AmdahlFit | None = None  # T(p) = a + b/p through the series' own points
    base_time: float | None = None  # its 1 x 1 median, seconds

    def curve(self, cores: list[int], as_speedup: bool) -> list[float]:
        """The fit at each core count, as time, or as speedup over the 1 x 1 time."""
        assert self.fit is not None
        times = [self.fit.predict(p) for p in cores]
        if not as_speedup:
            return times
        assert self.base_time is not None
        return [self.base_time / t if t > 0 else float("nan") for t in times]

    def ideal(self, cores: list[int], as_speedup: bool) -> list[float]:
        """Perfect scaling from the 1 x 1 point: p-fold speedup, or T1 / p seconds."""
        assert self.base_time is not None
        return [float(p) if as_speedup else self.base_time / p for p in cores]


def scaling_series(
    results: Iterable[Result], as_speedup: bool, tasks: Mapping[str, Task]
) -> list[Series]:
    """One series per task, scale and strategy; the 1 x 1 point starts each of them.
    `tasks` says which knobs each task has (a one-knob task needs no strategy in its label).

    In speedup mode a task without a 1 x 1 point has nothing to measure against and
    is left out.
    """
    groups: dict[tuple, dict[str, list[Result]]] = {}
    bases: dict[tuple, Result] = {}
    for key, result in latest_points(results).items():
        curve, (train, eval_) = key[:-2], key[-2:]
        strategies = groups.setdefault(curve, {})
        if train == eval_ == 1:
            bases[curve] = result
        else:
            strategies.setdefault(strategy(result), []).append(result)
    series = []
    for curve, strategies in groups.items():
        task, variant, scale, _ = curve
        base = bases.get(curve)
        if as_speedup and base is None:
            continue
        knobs = tasks[task].knobs if task in tasks else {"train", "eval"}
        for name, members in strategies.items() or [("", [])]:
            label = task if len(knobs) == 1 or not name else f"{task} {name}"
            if variant:
                label += f" [{variant}]"
            if scale != "small":
                label += f" ({scale})"
            chosen = sorted(([base] if base else []) + members, key=lambda r: r.cores_used)
            points = tuple(
                (r.cores_used, base.fit_time / r.fit_time if as_speedup and base else r.fit_time)
                for r in chosen
            )
            fit = analyse_results(chosen).fit
            # A fit whose b is not positive says only that more cores did not help: the
            # table shows that better than a curve with a meaningless serial fraction.
            usable = fit if fit is not None and fit.b > 0 and fit.a + fit.b > 0 else None
            series.append(Series(label, points, usable, base.fit_time if base else None))
    return series
