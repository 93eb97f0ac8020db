"""Per-core utilisation, and how much of it the experiment's process tree accounts for.

`PsutilSampler` reads the machine; any `Sampler` answers `sample()` with a `CoreSample` and
follows a run with `watch(pid)` (the tests use a fake one with fixed values).
`sample()` may block for up to `MIN_INTERVAL`, so callers run it off the UI thread.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import psutil

from cpulab.engine.cgroup import cpu_seconds, run_cgroup_of
from cpulab.engine.cores import CoreBudget, core_budget
from cpulab.engine.errors import UsageError
from cpulab.engine.load import noisy
from cpulab.engine.proctree import Key, TreeReader, tree_reader

MIN_INTERVAL = 0.1  # seconds: shorter intervals make per-core percentages mostly noise
DEFAULT_HZ = 4.0
MAX_HZ = 1 / MIN_INTERVAL
MIN_HZ = 0.2


def check_sample_hz(hz: float) -> float:
    if not MIN_HZ <= hz <= MAX_HZ:
        raise UsageError(
            f"the sampling rate must be between {MIN_HZ:g} and {MAX_HZ:g} Hz, not {hz:g}"
        )
    return hz


@dataclass(frozen=True)
class CoreSample:
    """One reading of the CPUs this process may use."""

    cpus: tuple[int, ...]  # CPU ids, in the order of `percents`
    percents: tuple[float, ...]  # busy percentage of each CPU, 0 to 100
    tree_cores: float = 0.0  # cores' worth of CPU used by the watched process tree
    other_cores: float = 0.0  # used by everything else, cpulab's own UI excepted
    steal: float | None = None  # average percentage, where the platform reports it
    iowait: float | None = None

    @property
    def avg(self) -> float:
        return statistics.fmean(self.percents) if self.percents else 0.0

    @property
    def min(self) -> float:
        return min(self.percents, default=0.0)

    @property
    def max(self) -> float:
        return max(self.percents, default=0.0)

    @property
    def quiet(self) -> bool:
        """Whether a result measured now would escape the runner's "noisy" flag."""
        steal_cores = (self.steal or 0.0) / 100 * len(self.cpus)
        load = {"other_cores": self.other_cores, "steal_cores": steal_cores}
        return not noisy(load, len(self.cpus))


class Sampler(Protocol):
    budget: CoreBudget

    def watch(self, pid: int | None) -> None: ...

    def count_as_own(self, pid: int | None) -> None: ...

    def sample(self) -> CoreSample: ...


def cpu_reader(root: int) -> TreeReader:
    """The tree's fastest reader, without memory: the app shows only CPU."""
    return tree_reader(root, memory=False)


class PsutilSampler:
    """Reads /proc (through psutil) for the CPUs in this process's affinity set.

    Percentages come from differences of `psutil.cpu_times(percpu=True)` kept here,
    not from `cpu_percent()`, whose state psutil keeps per calling thread: samples
    taken from a pool of threads would otherwise compare against stale readings.
    The watched tree's CPU comes from the run's cgroup where it has one (one file, and
    it counts processes that left the tree), else from `reader` (on Linux, /proc itself).
    """

    def __init__(
        self,
        budget: CoreBudget | None = None,
        clock: Callable[[], float] = time.monotonic,
        reader: Callable[[int], TreeReader] = cpu_reader,
        cgroups: bool = True,
    ):
        self.budget = budget or core_budget()
        self._clock = clock
        self._reader = reader
        self._cgroups = cgroups
        self._own = psutil.Process(os.getpid())
        self._watched: int | None = None
        self._root: int | None = None
        self._spare: psutil.Process | None = None  # a runner waiting for its run: ours
        self._tree: TreeReader | None = None
        self._group: Path | None = None  # the run's cgroup, where it has one
        self._group_used = 0.0  # its CPU seconds at the previous sample
        self._root_from_now = False  # the root's first reading is a baseline, not use
        self._seconds: dict[Key, tuple[float, float]] = {}  # own and reaped-children CPU
        self._unreaped = 0.0  # CPU read from members that exited, not yet seen reaped
        # The first reading is only a baseline: percentages need two.
        self._times = psutil.cpu_times(percpu=True)
        self._own_used = self._own_seconds()
        self._at = clock()

    def watch(self, pid: int | None) -> None:
        """Attribute CPU use to `pid` and its descendants from the next sample on."""
        self._watched = pid  # one assignment: safe while a sample runs in another thread

    def count_as_own(self, pid: int | None) -> None:
        """Count `pid`, a spare runner importing ahead of a run, as cpulab's own work, not
        as other load on the machine. When the spare is then watched, it changes sides at
        that sample: its imports were not the experiment."""
        try:
            self._spare = None if pid is None else psutil.Process(pid)
        except psutil.Error:
            self._spare = None

    def sample(self) -> CoreSample:
        wait = MIN_INTERVAL - (self._clock() - self._at)
        if wait > 0:
            time.sleep(wait)
        times = psutil.cpu_times(percpu=True)
        now = self._clock()
        elapsed = max(now - self._at, 1e-9)
        deltas = [_delta(before, after) for before, after in zip(self._times, times, strict=False)]
        self._times, self._at = times, now

        # CPU ids index /proc/stat's rows; a CPU missing from it (offline) reads as idle.
        chosen = [deltas[cpu] if cpu < len(deltas) else None for cpu in self.budget.affinity]
        percents = tuple(_busy_percent(d) for d in chosen)
        busy_cores = sum(percents) / 100
        tree_cores = self._tree_seconds() / elapsed
        own_used = self._own_seconds()
        own_cores = (own_used - self._own_used) / elapsed
        self._own_used = own_used
        present = [d for d in chosen if d is not None]
        return CoreSample(
            cpus=self.budget.affinity,
            percents=percents,
            tree_cores=tree_cores,
            other_cores=max(busy_cores - tree_cores - own_cores, 0.0),
            steal=_mean_share(present, "steal"),
            iowait=_mean_share(present, "iowait"),
        )

    def _tree_seconds(self) -> float:
        """CPU seconds the watched tree used since the previous sample."""
        if self._watched != self._root:
            self._follow(self._watched)
        if self._root is None:
            return 0.0
        if self._group is not None:
            used = cpu_seconds(self._group)
            if used is not None:
                new, self._group_used = max(used - self._group_used, 0.0), used
                return new
            # Removed, so empty: the run has ended. What of its tree lives on (moved out
            # by a privileged task) counts from here, not again from its start.
            self._group, self._root_from_now = None, False
            assert self._tree is not None
            for key, stat in self._tree.read().items():
                self._seconds[key] = (stat.cpu, stat.children_cpu)
            return 0.0
        return self._members_seconds()

    def _follow(self, root: int | None) -> None:
        self._root, self._seconds, self._unreaped = root, {}, 0.0
        if self._tree is not None:
            self._tree.close()
        self._tree = None if root is None else self._reader(root)
        self._group = run_cgroup_of(root) if root is not None and self._cgroups else None
        self._group_used = 0.0  # made with the runner: the group counts from its start
        spare = self._spare
        self._root_from_now = spare is not None and spare.pid == root
        if self._root_from_now:
            # The spare now runs: it counts from here, its imports stay ours. One step, in
            # the sampling thread, so no sample sees it on neither side.
            if self._group is not None:
                self._group_used = cpu_seconds(self._group) or 0.0
            self._spare = None
            self._own_used = self._own_seconds()  # its leaving our CPU is no drop

    def _members_seconds(self) -> float:
        """The tree's CPU, member by member.

        Members count from their start: watch a run as it begins. A member that exits
        is reaped by its parent, whose reaped-children time then grows by the member's
        whole life; only the part not read while it ran is new.
        """
        assert self._tree is not None
        stats = self._tree.read()
        before, seen = self._seconds, {}
        if self._root_from_now:
            self._root_from_now = False
            for key, stat in stats.items():
                if key[0] == self._root:
                    before[key] = (stat.cpu, 0.0)  # the spare's past stays ours
        # Every member, every sample: one lookup of its last reading and one store.
        used = reaped = 0.0
        for key, stat in stats.items():
            cpu, children = seen[key] = (stat.cpu, stat.children_cpu)
            last = before.pop(key, None)
            if last is None:  # new: all of its time is the tree's
                used += cpu
                reaped += children
            else:
                if cpu > last[0]:
                    used += cpu - last[0]
                if children > last[1]:
                    reaped += children - last[1]
        self._seconds = seen
        for own, _ in before.values():  # ended since the last sample
            self._unreaped += own
        lost = max(reaped - self._unreaped, 0.0)
        self._unreaped = max(self._unreaped - reaped, 0.0)
        return used + lost

    def _own_seconds(self) -> float:
        """cpulab's own CPU, with the runs it has reaped (their last moments are lost to
        the tree's readings and would otherwise show up as other work) and its spare."""
        times = self._own.cpu_times()
        used = times.user + times.system + times.children_user + times.children_system
        spare = self._spare
        if spare is not None:
            with contextlib.suppress(psutil.Error):  # gone: reaped, it is in ours above
                used += _cpu(spare)
        return used


def _cpu(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system


def _delta(before, after) -> dict[str, float]:
    return {name: getattr(after, name) - getattr(before, name) for name in after._fields}


def _total(delta: dict[str, float]) -> float:
    # Linux counts guest time inside user and nice already.
    return sum(delta.values()) - delta.get("guest", 0.0) - delta.get("guest_nice", 0.0)


def _busy_percent(delta: dict[str, float] | None) -> float:
    if delta is None:
        return 0.0
    total = _total(delta)
    if total <= 0:
        return 0.0
    idle = delta["idle"] + delta.get("iowait", 0.0)
    return min(max(100 * (1 - idle / total), 0.0), 100.0)


def _mean_share(deltas: list[dict[str, float]], name: str) -> float | None:
    if not deltas or name not in deltas[0]:
        return None
    return statistics.fmean(100 * d[name] / t if (t := _total(d)) > 0 else 0.0 for d in deltas)
