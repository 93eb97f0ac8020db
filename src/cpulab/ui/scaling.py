"""Speedups and chart series over finished results. Plain Python: no Textual here.

One definition of speedup, the CLI's: a point's time against the 1 x 1 point of its own
sweep, analysed by the engine's `analyse_results` exactly as `cpulab sweep` reports it and
`cpulab export` writes it. An advice search's batches are drawn as one series, but each is a
stored sweep of its own, and its points' speedups are against its own 1 x 1, as exported.
A run outside any sweep is measured against the latest 1 x 1 run of the same task, variant
and scale up to it, in the same session (this app session, or, for results loaded from the
store, the earlier ones together): a 1 x 1 run against itself, and runs made before any 1 x 1
against the first one after them. So a later 1 x 1 changes no run's speedup in the table.
The chart shows a curve: the latest result of each split, against the latest 1 x 1.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property

from cpulab.engine.events import Result
from cpulab.engine.models import model_points
from cpulab.engine.stats import AmdahlFit, PointStats, ScalingReport, analyse_results, curve_key
from cpulab.engine.tasks import Task


@dataclass(frozen=True, eq=False)
class Entry:
    """A finished result as the app holds it: where it is stored, which sweep it was
    part of, and whether this app session ran it. Compared by identity: the same result
    may be an entry twice (run now, and loaded from the store)."""

    result: Result
    point_id: int | None = None  # its row in the store; None where not stored
    sweep: str | None = None  # the sweep it belongs to ("12": stored sweep 12); None: a run
    this_session: bool = True
    created_at: float | None = None  # seconds since the epoch, where stored
    machine_id: int | None = None
    # An advice search's batch: the sweep it is ("12", or "app 3" unstored), where `sweep`
    # names the search.
    batch: str | None = None

    @property
    def ident(self) -> tuple:
        """What stays the same when the entry is loaded again: its row, or itself."""
        return ("point", self.point_id) if self.point_id is not None else ("entry", id(self))

    @cached_property
    def stats(self) -> PointStats:
        return PointStats.of(self.result.fit_times)


def as_entries(items: Iterable[Result | Entry]) -> list[Entry]:
    """Entries as they are; a bare result is a run of this session, not stored."""
    return [item if isinstance(item, Entry) else Entry(item) for item in items]


def strategy(result: Result) -> str:
    """How a split spends its cores: on training, on evaluation, or on both."""
    if result.eval == 1:
        return "train-cores"
    if result.train == 1:
        return "eval-cores"
    return "mixed"


@dataclass(frozen=True)
class Group:
    """Results measured against one baseline: a sweep's, or a session's runs of one curve."""

    key: tuple
    members: tuple[Entry, ...]  # the latest entry of each split, in first-run order
    report: ScalingReport  # the engine's analysis of `members`: the CLI's, for a sweep

    @property
    def baseline(self) -> Entry | None:
        return next((e for e in self.members if e.result.cores_used == 1), None)

    @property
    def sweep(self) -> str | None:
        return self.key[1] if self.key[0] == "sweep" else None


def group_key(entry: Entry) -> tuple:
    curve = curve_key(entry.result)
    if entry.sweep is not None:
        return ("sweep", entry.sweep, curve)
    return ("runs", entry.this_session, curve)


def baseline_key(entry: Entry) -> tuple:
    """The group whose 1 x 1 a point's speedup is measured against: `group_key`'s, but an
    advice search's batch is the sweep it is, stored or not."""
    if entry.batch is not None:
        return ("sweep", entry.batch, curve_key(entry.result))
    return group_key(entry)


def groups_of(
    entries: Iterable[Entry], key: Callable[[Entry], tuple] = group_key
) -> dict[tuple, Group]:
    """Every group of these entries, by `key`, in first-run order."""
    latest: dict[tuple, dict[tuple[int, int], Entry]] = {}
    for entry in entries:
        splits = latest.setdefault(key(entry), {})
        splits.pop((entry.result.train, entry.result.eval), None)  # a rerun counts as new
        splits[(entry.result.train, entry.result.eval)] = entry
    return {
        key: Group(key, tuple(splits.values()), analyse_results(e.result for e in splits.values()))
        for key, splits in latest.items()
    }


@dataclass(frozen=True)
class Speedup:
    """A point's speedup, and the 1 x 1 entry it is measured against."""

    value: float
    baseline: Entry
    baseline_stats: PointStats

    @property
    def caveats(self) -> list[str]:
        """Why the baseline may not be trusted: its flags and its spread."""
        return self.baseline_stats.warnings(self.baseline.result.flags)

    @classmethod
    def against(cls, entry: Entry, baseline: Entry, baseline_stats: PointStats) -> Speedup:
        return cls(baseline_stats.median / entry.stats.median, baseline, baseline_stats)


def speedups(entries: Sequence[Entry]) -> dict[int, Speedup]:
    """The speedup of each entry that has a baseline, by `id(entry)`; `entries` oldest
    first."""
    found: dict[int, Speedup] = {}
    runs: dict[tuple, list[Entry]] = {}
    sweeps = groups_of((e for e in entries if e.sweep is not None), baseline_key)
    for entry in entries:
        key = baseline_key(entry)
        if entry.sweep is None:
            runs.setdefault(key, []).append(entry)
            continue
        sweep = sweeps[key]
        if entry.result.cores_used == 1:
            # Against itself, as a run's: an advice measures its 1 x 1 more than once,
            # and an earlier one read 0.75x against the latest.
            found[id(entry)] = Speedup.against(entry, entry, entry.stats)
        elif sweep.baseline is not None and sweep.report.baseline is not None:
            found[id(entry)] = Speedup.against(entry, sweep.baseline, sweep.report.baseline)
    for members in runs.values():
        found.update(_against_the_1x1_up_to_each(members))
    return found


def _against_the_1x1_up_to_each(runs: list[Entry]) -> dict[int, Speedup]:
    """Runs outside a sweep, of one curve and session, oldest first: each against the
    latest 1 x 1 run up to it; those before the first 1 x 1, against that one."""
    found: dict[int, Speedup] = {}
    baseline: Entry | None = None
    waiting: list[Entry] = []
    for entry in runs:
        if entry.result.cores_used == 1:
            baseline = entry
            for early in waiting:
                found[id(early)] = Speedup.against(early, baseline, baseline.stats)
            waiting = []
        if baseline is None:
            waiting.append(entry)
        else:
            found[id(entry)] = Speedup.against(entry, baseline, baseline.stats)
    return found


@dataclass(frozen=True)
class Series:
    label: str
    points: tuple[tuple[int, float], ...]  # (cores used, seconds or speedup), by cores
    fit: AmdahlFit | None = None  # T(p) = a + b/p through the series' own points
    base_time: float | None = None  # its baseline's median, seconds
    sweep: str | None = None  # the sweep its points are of; None: runs outside any sweep
    # What a scaling model of it follows (engine/models.py `model_points`): the fastest
    # split of each core count, with its runs' fit times.
    runs: tuple[tuple[int, tuple[float, ...]], ...] = ()

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
    items: Iterable[Result | Entry], as_speedup: bool, tasks: Mapping[str, Task]
) -> list[Series]:
    """One series per group (a sweep, or a session's runs of a curve) and strategy; the
    group's 1 x 1 point starts each of them. `tasks` says which knobs each task has (a
    one-knob task needs no strategy in its label).

    In speedup mode a group without a 1 x 1 point has nothing to measure against and
    is left out.
    """
    series: list[Series] = []
    sessions: dict[int, str] = {}  # which of them are runs, and of which sessions
    for group in groups_of(as_entries(items)).values():
        base = group.baseline
        base_time = group.report.baseline.median if group.report.baseline else None
        if as_speedup and base_time is None:
            continue
        strategies: dict[str, list[Entry]] = {}
        for entry in group.members:
            if entry is not base:
                strategies.setdefault(strategy(entry.result), []).append(entry)
        first = group.members[0].result
        knobs = tasks[first.task].knobs if first.task in tasks else {"train", "eval"}
        for name, members in strategies.items() or [("", [])]:
            label = first.task if len(knobs) == 1 or not name else f"{first.task} {name}"
            if first.variant:
                label += f" [{first.variant}]"
            if first.scale != "small":
                label += f" ({first.scale})"
            if group.sweep is not None:  # a stored sweep's id, "app 2", or "advice 1"
                named = group.sweep.startswith("advice")
                label += f" · {group.sweep}" if named else f" · sweep {group.sweep}"
            chosen = sorted(([base] if base else []) + members, key=lambda e: e.result.cores_used)
            # Against the series' own 1 x 1, as its curves are: a row run before a later
            # 1 x 1 keeps its speedup in the table, and moves on the chart.
            points = tuple(
                (e.result.cores_used, base_time / t if as_speedup and base_time else t)
                for e in chosen
                for t in [e.stats.median]
            )
            report = analyse_results(e.result for e in chosen)
            fit = report.fit
            # A fit whose b is not positive says only that more cores did not help: the
            # table shows that better than a curve with a meaningless serial fraction.
            usable = fit if fit is not None and fit.b > 0 and fit.a + fit.b > 0 else None
            runs = tuple(model_points(report))
            if group.sweep is None:  # runs outside any sweep: this session's, or earlier
                sessions[len(series)] = "this session" if group.key[1] else "earlier"
            series.append(Series(label, points, usable, base_time, group.sweep, runs))
    # This session's runs and earlier sessions' of the same curve are two series of one
    # label: each then says which it is.
    labels = Counter(line.label for line in series)
    for index, which in sessions.items():
        if labels[series[index].label] > 1:
            series[index] = replace(series[index], label=f"{series[index].label} · {which}")
    return series
