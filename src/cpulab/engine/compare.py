"""Two sets of stored results side by side: is B slower than A, split by split?

Each side is a sweep, one stored result, or the newest result of each split of a task on
one machine. Points are matched by split (training x evaluation cores) and compared over
their measured repeats, without assuming any distribution of times:

- the shift of B against A is the Hodges-Lehmann estimate, the median of every difference
  b - a between a repeat of B and one of A, with its distribution-free 95 % interval from
  the order statistics of those differences (Hollander & Wolfe, Nonparametric Statistical
  Methods, 4.3);
- its significance is the two-sided Mann-Whitney U test: the exact distribution of U for
  small samples without ties (repeats are often 3 to 10), else the normal approximation
  with the tie correction and a continuity correction.

Shifts are given as percentages of A's median time. Standard library only.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from math import comb

from cpulab.engine.errors import UsageError
from cpulab.engine.events import Result
from cpulab.engine.presentation import counted, task_label
from cpulab.engine.store import ResultStore, StoredPoint

ALPHA = 0.05  # two-sided: significant below, and a 95 % interval
Z_975 = statistics.NormalDist().inv_cdf(1 - ALPHA / 2)
EXACT_MAX = 40  # repeats of both sides together up to which U's distribution is exact
# Repeats a side to suggest where too few can never be significant: 4 is the least that can
# (only with every time of one side above every time of the other); with 5, two pairs may
# cross.
SUGGESTED_REPEATS = 5

Split = tuple[int, int]  # (train, eval)


# The statistics


@cache
def _u_counts(m: int, n: int) -> tuple[int, ...]:
    """How many of the comb(m + n, m) orderings of two samples without ties give each U
    (0 to m * n): U(m, n) is U(m - 1, n) + n when the largest value is of the first
    sample, else U(m, n - 1)."""
    if m == 0 or n == 0:
        return (1,)
    counts = [0] * (m * n + 1)
    for u, ways in enumerate(_u_counts(m - 1, n)):
        counts[u + n] += ways
    for u, ways in enumerate(_u_counts(m, n - 1)):
        counts[u] += ways
    return tuple(counts)


def u_cdf(u: int, m: int, n: int) -> float:
    """P(U <= u) under the null hypothesis, exactly, for samples of m and n without ties."""
    if u < 0:
        return 0.0
    counts = _u_counts(m, n)
    return sum(counts[: u + 1]) / comb(m + n, m)


def mann_whitney_u(a: Sequence[float], b: Sequence[float]) -> float:
    """U of B: the pairs (a, b) where b is the larger, a tie counting one half."""
    return sum(1.0 if y > x else 0.5 if y == x else 0.0 for x in a for y in b)


@dataclass(frozen=True)
class UTest:
    u: float  # of B
    p_value: float  # two-sided
    exact: bool  # exact distribution; else the normal approximation


def mann_whitney(a: Sequence[float], b: Sequence[float]) -> UTest:
    """The two-sided Mann-Whitney U test of samples a and b (each of one at least)."""
    m, n = len(a), len(b)
    u = mann_whitney_u(a, b)
    tied = len(set(a) | set(b)) < m + n
    if not tied and m + n <= EXACT_MAX:
        low = min(u, m * n - u)  # the distribution is symmetric about m * n / 2
        return UTest(u, min(1.0, 2 * u_cdf(int(low), m, n)), exact=True)
    # Normal, with the variance lowered by ties (t^3 - t over each group of t equal values).
    total = m + n
    ties = sum(t**3 - t for t in _group_sizes([*a, *b]))
    variance = m * n / 12 * ((total + 1) - ties / (total * (total - 1)))
    if variance <= 0:  # every value equal: nothing tells the samples apart
        return UTest(u, 1.0, exact=False)
    distance = max(abs(u - m * n / 2) - 0.5, 0.0)
    p = 2 * (1 - statistics.NormalDist().cdf(distance / math.sqrt(variance)))
    return UTest(u, min(1.0, p), exact=False)


def _group_sizes(values: Iterable[float]) -> list[int]:
    sizes: dict[float, int] = {}
    for value in values:
        sizes[value] = sizes.get(value, 0) + 1
    return [size for size in sizes.values() if size > 1]


def smallest_p(m: int, n: int) -> float:
    """The smallest two-sided p-value the exact test can give samples of m and n: every
    value of one sample above every value of the other."""
    return min(1.0, 2 / comb(m + n, m))


def repeats_needed(alpha: float = ALPHA) -> int:
    """The fewest repeats a side for which the exact test can reach `alpha`."""
    n = 1
    while smallest_p(n, n) >= alpha:
        n += 1
    return n


@dataclass(frozen=True)
class Shift:
    estimate: float  # Hodges-Lehmann: the median of the differences b - a
    low: float | None  # the 95 % interval; None where the samples are too small for one
    high: float | None


def hodges_lehmann(a: Sequence[float], b: Sequence[float]) -> Shift:
    """The shift of b against a, with its distribution-free 95 % interval: the k-th
    smallest and k-th largest of the m * n differences, k the largest for which
    P(U <= k - 1) <= alpha / 2 (exact, or by the normal approximation beyond EXACT_MAX)."""
    m, n = len(a), len(b)
    differences = sorted(y - x for x in a for y in b)
    estimate = statistics.median(differences)
    if m + n <= EXACT_MAX:
        k = 0
        while k < m * n // 2 and u_cdf(k, m, n) <= ALPHA / 2:
            k += 1
    else:
        k = math.floor(m * n / 2 - Z_975 * math.sqrt(m * n * (m + n + 1) / 12))
    if k < 1:
        return Shift(estimate, None, None)
    return Shift(estimate, differences[k - 1], differences[m * n - k])


# The comparison


@dataclass(frozen=True)
class Side:
    """One side of a comparison: a name for it, and its result at each split."""

    label: str
    points: dict[Split, StoredPoint]
    single: bool = False  # one stored result, compared with the other whatever its split

    @property
    def task(self) -> tuple[str, str]:
        first = next(iter(self.points.values())).result
        return first.task, first.scale


@dataclass(frozen=True)
class PointComparison:
    split: Split
    a: Result
    b: Result
    shift: Shift  # seconds
    test: UTest

    @property
    def label(self) -> str:
        """Its split, "2 x 1", or "1 x 1 vs 2 x 1" where two single results meet."""
        a, b = (self.a.train, self.a.eval), (self.b.train, self.b.eval)
        return split_label(a) if a == b else f"{split_label(a)} vs {split_label(b)}"

    @property
    def significant(self) -> bool:
        return self.test.p_value < ALPHA

    @property
    def median_a(self) -> float:
        return self.a.fit_time

    @property
    def median_b(self) -> float:
        return self.b.fit_time

    def percent(self, seconds: float | None) -> float | None:
        """A shift in seconds as a percentage of A's median time."""
        if seconds is None or self.median_a <= 0:
            return None
        return 100 * seconds / self.median_a

    @property
    def can_be_significant(self) -> bool:
        # Ties only raise the smallest p; beyond a few repeats it is tiny.
        return smallest_p(len(self.a.fit_times), len(self.b.fit_times)) < ALPHA


@dataclass(frozen=True)
class Comparison:
    a: Side
    b: Side
    points: list[PointComparison]
    only_a: list[Split] = field(default_factory=list)
    only_b: list[Split] = field(default_factory=list)

    @property
    def slower(self) -> list[PointComparison]:
        return [p for p in self.points if p.significant and p.shift.estimate > 0]

    @property
    def faster(self) -> list[PointComparison]:
        return [p for p in self.points if p.significant and p.shift.estimate < 0]

    @property
    def too_few_repeats(self) -> bool:
        """True where some point could never be significant, however large its shift."""
        return any(not p.can_be_significant for p in self.points)

    def verdict(self) -> str:
        """The verdict in one line."""
        return "; ".join(self.verdict_lines())

    def verdict_lines(self) -> list[str]:
        """A line each for slower and faster, "B is slower at 3 of 4 points: up to +42.0 %
        (2 x 1)", or the one line "no significant difference at 4 points"."""
        total = len(self.points)
        lines = []
        for word, chosen, pick in (("slower", self.slower, max), ("faster", self.faster, min)):
            if chosen:
                worst = pick(chosen, key=lambda p: p.percent(p.shift.estimate) or 0.0)
                lines.append(
                    f"B is {word} at {len(chosen)} of {total} point{'s' * (total != 1)}: "
                    f"up to {_percent(worst.percent(worst.shift.estimate))} "
                    f"({worst.label})"
                )
        if not lines:
            return [f"no significant difference at {total} point{'s' * (total != 1)}"]
        return lines

    def slower_than(self, percent: float) -> list[PointComparison]:
        """The points significantly slower in B by more than `percent` of A's median."""
        return [p for p in self.slower if (p.percent(p.shift.estimate) or 0.0) > percent]


def _percent(value: float | None) -> str:
    return "?" if value is None else f"{value:+.1f} %"


def split_label(split: Split) -> str:
    return f"{split[0]} x {split[1]}"


def compare(a: Side, b: Side) -> Comparison:
    """Each split both sides measured, compared; the others listed. Two single results
    are compared whatever their splits: "is 2 x 1 faster than 1 x 1?"."""
    if a.single and b.single:
        [(split, stored_a)], [stored_b] = a.points.items(), b.points.values()
        return Comparison(a, b, [_point(split, stored_a.result, stored_b.result)])
    shared = [split for split in a.points if split in b.points]
    return Comparison(
        a,
        b,
        [_point(split, a.points[split].result, b.points[split].result) for split in sorted(shared)],
        only_a=sorted(set(a.points) - set(b.points)),
        only_b=sorted(set(b.points) - set(a.points)),
    )


def _point(split: Split, ra: Result, rb: Result) -> PointComparison:
    return PointComparison(
        split,
        ra,
        rb,
        hodges_lehmann(ra.fit_times, rb.fit_times),
        mann_whitney(ra.fit_times, rb.fit_times),
    )


# The sides, from the store


def sweep_side(store: ResultStore, sweep_id: int) -> Side:
    found = store.sweeps(ids=[sweep_id])
    if not found:
        raise UsageError(f"there is no sweep #{sweep_id} in {store.path}: see `cpulab history`")
    sweep = found[0]
    points = {}
    for stored in store.iter_points(sweep_id=sweep_id):
        points[(stored.result.train, stored.result.eval)] = stored  # a later one replaces
    if not points:
        raise UsageError(f"sweep #{sweep_id} has no stored results to compare")
    first = next(iter(points.values()))
    label = (
        f"sweep #{sweep_id}: {task_label(first.result)} ({sweep.scale}), "
        f"{counted(sweep.repeats, 'repeat')}, {sweep.status}, host #{sweep.machine_id}"
    )
    return Side(label, points)


def run_side(store: ResultStore, point_id: int) -> Side:
    stored = store.point(point_id)
    if stored is None:
        if store.deleted_ids([point_id]).get(point_id):
            raise UsageError(
                f"stored result #{point_id} is deleted: cpulab restore {point_id} brings it back"
            )
        raise UsageError(f"there is no stored result #{point_id} in {store.path}")
    r = stored.result
    label = (
        f"result #{point_id}: {task_label(r)} ({r.scale}) at {r.train} x {r.eval}, "
        f"{counted(len(r.fit_times), 'repeat')}, host #{stored.machine_id}"
    )
    return Side(label, {(r.train, r.eval): stored}, single=True)


def machine_sides(
    store: ResultStore, task: str, machines: tuple[int | str, int | str], scale: str | None
) -> tuple[Side, Side]:
    """The newest result of each split of `task` on each of two machines (an id, or text
    found in the host or CPU name), at `scale`, else at the scale of the newest of them."""
    newest: list[dict[tuple[str, int, int], StoredPoint]] = []
    for machine in machines:
        chosen: dict[tuple[str, int, int], StoredPoint] = {}
        for stored in store.iter_points(task, machine, newest_first=True):
            r = stored.result
            chosen.setdefault((r.scale, r.train, r.eval), stored)
        if not chosen:
            raise UsageError(f"no stored {task} results on a machine matching {machine!r}")
        newest.append(chosen)
    ids = [{stored.machine_id for stored in chosen.values()} for chosen in newest]
    if ids[0] & ids[1]:
        raise UsageError(
            f"{machines[0]!r} and {machines[1]!r} match the same machine: name two machines"
        )
    if scale is None:
        latest = max((p for chosen in newest for p in chosen.values()), key=lambda p: p.id)
        scale = latest.result.scale
    sides = []
    for machine, chosen in zip(machines, newest, strict=True):
        points = {(t, e): p for (s, t, e), p in chosen.items() if s == scale}
        if not points:
            raise UsageError(f"no stored {task} results at scale {scale} on {machine!r}")
        hosts = ", ".join(f"#{m}" for m in sorted({p.machine_id for p in points.values()}))
        label = f"{task} ({scale}) on {machine!r}: host {hosts}, the newest of each split"
        sides.append(Side(label, points))
    return sides[0], sides[1]


def check_comparable(a: Side, b: Side) -> None:
    """Both sides measured the same task at the same scale."""
    if a.task != b.task:
        (ta, sa), (tb, sb) = a.task, b.task
        raise UsageError(
            f"A ran {ta} ({sa}) and B {tb} ({sb}): compare results of one task and scale"
        )
