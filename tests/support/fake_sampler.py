"""A sampler with fixed readings, for the UI tests, the snapshots and the benchmarks."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import cycle

from cpulab.engine.cores import CoreBudget
from cpulab.monitor.sampler import CoreSample


class FakeSampler:
    """Fixed readings: one frame of per-core percentages, or several taken in turn."""

    def __init__(
        self,
        frames: Sequence[Sequence[float]],
        tree_cores: float = 0.0,
        other_cores: float = 0.0,
        steal: float | None = None,
        iowait: float | None = None,
    ):
        count = len(frames[0])
        self.budget = CoreBudget(
            logical=count, affinity=tuple(range(count)), quota=None, env_limit=None
        )
        self.watched: int | None = None
        self.spare: int | None = None
        self._samples = cycle(
            [
                CoreSample(
                    self.budget.affinity, tuple(frame), tree_cores, other_cores, steal, iowait
                )
                for frame in frames
            ]
        )

    @classmethod
    def pattern(cls, count: int, **readings) -> FakeSampler:
        """`count` cores with varied, repeatable loads: a spread of every level."""
        return cls([[(cpu * 37 + 11) % 101 for cpu in range(count)]], **readings)

    def watch(self, pid: int | None) -> None:
        self.watched = pid

    def count_as_own(self, pid: int | None) -> None:
        self.spare = pid

    def sample(self) -> CoreSample:
        return next(self._samples)
