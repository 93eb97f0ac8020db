"""Sweep plans: which core counts, which splits of them, how many runs of each."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from cpulab.engine.backends import DaskTarget
from cpulab.engine.cores import MAX_CORES, CoreSplit, check_core_count, digits_value
from cpulab.engine.errors import UsageError
from cpulab.engine.spec import LIFTED_BY, RunOptions, RunSpec, SweepSpec, cores_text
from cpulab.engine.tasks import Task

STRATEGIES = {
    "eval": "all cores to evaluation (training 1)",
    "train": "all cores to training (evaluation 1)",
    "grid": "every split of training x evaluation = p",
}
MAX_SWEEP_CORES = MAX_CORES  # checked as the list is read, before a range that long is built


def parse_cores(text: str, available: int) -> tuple[int, ...]:
    """Core counts from "1,2,4", "1-8", "pow2" (1, 2, 4 ... up to the available cores,
    and the available count itself when it is not a power of two), or a mix: "1,4-6"."""
    text = text.strip().lower()
    if text == "pow2":
        counts = {1 << i for i in range(available.bit_length()) if 1 << i <= available}
        return tuple(sorted(counts | {available}))
    chosen: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        # [0-9], not \d: that would take other scripts' digits for counts too.
        match = re.fullmatch(r"([0-9]+)(?:\s*-\s*([0-9]+))?", part)
        if part == "pow2":
            raise UsageError("pow2 stands alone, not in a list: use pow2, or list the counts")
        if not match:
            raise UsageError(
                f"cannot read core count {part!r}: use a list (1,2,4), a range (1-8) or pow2"
            )
        low = digits_value(match[1])
        high = digits_value(match[2]) if match[2] else low
        if low < 1:
            raise UsageError(f"core counts start at 1, not {low}")
        if high < low:
            raise UsageError(f"the range {part} runs backwards: write {high}-{low}")
        if high > MAX_SWEEP_CORES:
            raise UsageError(f"{high} cores is beyond any machine: the most is {MAX_SWEEP_CORES}")
        chosen.update(range(low, high + 1))
    return tuple(sorted(chosen))


def listed(counts: list[int]) -> str:
    """Counts as a sentence names them: "3", "3 and 4", "3, 4 and 6", "3 to 8", "3, 4 ... 9"."""
    if len(counts) <= 3:
        return " and ".join(filter(None, [", ".join(map(str, counts[:-1])), str(counts[-1])]))
    if counts == list(range(counts[0], counts[-1] + 1)):
        return f"{counts[0]} to {counts[-1]}"
    return f"{counts[0]}, {counts[1]} ... {counts[-1]}"


def default_strategy(task: Task) -> str:
    return "eval" if "eval" in task.knobs else "train"


def cluster_size(
    text: str,
    options: RunOptions,
    available: int,
    strategy: str | None = None,
    field: str = "--workers",
) -> tuple[tuple[int, ...], RunOptions]:
    """The worker counts of a cluster-size sweep (--workers LIST, read as core counts are,
    pow2 up to local:N's N) and the options of its points: each uses as many of the
    cluster's workers as its core count, which the task's outer knob holds (evaluation,
    or training for a training-only task: the default strategy's splits). `field` names
    the list in a problem with it: the option, or the app's field."""
    if options.cluster is None:
        raise UsageError(
            "--workers sweeps the size of a Dask cluster: give --dask ADDRESS or local:N too"
        )
    if strategy is not None:
        raise UsageError(
            "--workers puts each worker count on the task's outer call: leave --strategy out"
        )
    local = DaskTarget.parse(options.cluster).local_workers
    try:
        counts = parse_cores(text, local or available)
    except UsageError as exc:
        raise UsageError(f"{field}: {exc}") from None
    return counts, replace(options, cluster_workers=True)


def splits_for(task: Task, strategy: str, cores: int) -> list[tuple[int, int]]:
    """The (training, evaluation) splits that use `cores` cores under a strategy."""
    if strategy not in STRATEGIES:
        raise UsageError(f"unknown strategy {strategy!r}: choose one of {', '.join(STRATEGIES)}")
    if strategy == "eval":
        splits = [(1, cores)]
    elif strategy == "train":
        splits = [(cores, 1)]
    else:
        splits = [(t, cores // t) for t in range(1, cores + 1) if cores % t == 0]
    usable = [split for split in splits if allowed(split, task.knobs)]
    if not usable:
        knob = "evaluation" if strategy == "eval" else "training"
        raise UsageError(
            f"{task.name} has no {knob} cores knob: use --strategy {default_strategy(task)}"
        )
    return usable


def allowed(split: tuple[int, int], knobs: frozenset[str]) -> bool:
    """Whether a task with these knobs can use the split: a knob it lacks stays at 1."""
    train, eval_ = split
    return ("train" in knobs or train == 1) and ("eval" in knobs or eval_ == 1)


@dataclass(frozen=True)
class SweepPlan:
    task: Task
    scale: str
    strategy: str
    cores: tuple[int, ...]
    repeats: int
    warmup: int
    available: int
    options: RunOptions = field(default_factory=RunOptions)
    # The tasks the plan's task was chosen from: named where --data is refused.
    catalogue: Mapping[str, Task] | None = field(default=None, compare=False)
    # Splits picked one by one (an advice search's batch) instead of by the strategy.
    chosen: tuple[tuple[int, int], ...] = ()

    @classmethod
    def of_splits(
        cls, task: Task, splits: list[tuple[int, int]], strategy: str, **settings: Any
    ) -> SweepPlan:
        """A plan of exactly these splits, in this order, recorded under `strategy`."""
        cores = tuple(sorted({t * e for t, e in splits}))
        return cls(task=task, strategy=strategy, cores=cores, chosen=tuple(splits), **settings)

    def splits(self) -> list[tuple[int, int]]:
        return [split for p in self.cores for split in self.splits_at(p)]

    @property
    def varies(self) -> str:
        """What the sweep varies, for its report's title: "strategy grid", or a cluster's
        sizes ("1 and 2 workers"), where the strategy only puts them on the outer knob."""
        if not self.options.cluster_workers:
            return f"strategy {self.strategy}"
        counts = list(self.cores)
        return f"{listed(counts)} worker{'s' * (counts != [1])}"

    def splits_at(self, cores: int) -> list[tuple[int, int]]:
        if self.chosen:
            return [(t, e) for t, e in self.chosen if t * e == cores]
        return splits_for(self.task, self.strategy, cores)

    def oversubscription(self) -> str | None:
        """The core counts beyond the available cores and how many points they make, in
        words; None where there are none, or where the backend's cores are a cluster's.
        Their results are flagged oversubscribed: the command line wants
        OVERSUBSCRIBE_FLAG for them, the app asks first."""
        beyond = [p for p in self.cores if p > self.available]
        if not beyond or self.options.backend_spec.cores_note is not None:
            return None
        over = sum(len(self.splits_at(p)) for p in beyond)
        total = len(self.splits())
        points = f"{over} of {total} points" if over < total else f"all {total} points"
        counts, verb = ("core count", "is") if len(beyond) == 1 else ("core counts", "are")
        return (
            f"{counts} {listed(beyond)} {verb} more than the {cores_text(self.available)} "
            f"available: {points if total > 1 else 'its point'} would be oversubscribed"
        )

    def check_oversubscription(self) -> None:
        """Refuse core counts beyond the available cores unless OVERSUBSCRIBE_FLAG allows
        them: the command line's consent, where the app asks (`spec` checks the cap)."""
        said = self.oversubscription()
        if said is not None and not self.options.allow_oversubscribe:
            raise UsageError(f"{said} {LIFTED_BY}")

    def spec(self) -> SweepSpec:
        """Validated points for one runner child; RunSpec checks scale and counts."""
        backend = self.options.check().backend_spec
        # Before any point's split is refused for that backend.
        if backend.no_sweeps and not self.options.cluster_workers:
            raise UsageError(backend.no_sweeps)
        # In the sweep's words, before any point's split is refused; the largest count
        # names the problem (1-4096 is refused for its 4096, not for its first count past).
        most = max(self.cores)
        check_core_count(
            most,
            self.available,
            f"{most} cores",
            allow_oversubscribe=self.options.allow_oversubscribe,
        )
        points = tuple(
            RunSpec.for_task(
                self.task,
                CoreSplit(train=t, eval=e, available=self.available),
                self.scale,
                repeats=self.repeats,
                warmup=self.warmup,
                options=self.options,
                catalogue=self.catalogue,
            )
            for t, e in self.splits()
        )
        return SweepSpec(points=points, strategy=self.strategy, cores=self.cores)
