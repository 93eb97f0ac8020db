"""Which cores this process may use, and how `n_jobs` values resolve against them.

The count follows joblib/loky's `cpu_count()` exactly (affinity, cgroup CPU quota,
LOKY_MAX_CPU_COUNT), but is computed here so that the UI process never has to import
joblib, which pulls in numpy.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cpulab.engine.errors import UsageError

CGROUP_V2_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
CGROUP_V1_QUOTA = Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
CGROUP_V1_PERIOD = Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us")
# Workers or threads per available core beyond which a count is taken for a typo: forking
# that many runs into the process limit long before it measures anything.
CORES_PER_CORE = 4
MAX_CORES = 4096  # a typo guard, far above any machine cpulab runs on, even oversubscribed
OVERSUBSCRIBE_FLAG = "--allow-oversubscribe"
WHOLE_NUMBER = re.compile(r"-?[0-9]+")
MAX_DIGITS = 30  # far more than any count cpulab takes, and short enough to quote


@dataclass(frozen=True)
class CoreBudget:
    """The CPUs a run may use and why there are that many."""

    logical: int  # CPUs in the machine
    affinity: tuple[int, ...]  # CPU ids this process may be scheduled on
    quota: float | None  # cgroup CPU bandwidth limit in cores, None when unlimited
    env_limit: int | None  # LOKY_MAX_CPU_COUNT, when set

    @property
    def available(self) -> int:
        """Cores as joblib counts them: the smallest of every limit, at least 1."""
        limits = [self.logical, len(self.affinity) or self.logical]
        if self.quota is not None:
            limits.append(math.ceil(self.quota))
        if self.env_limit is not None:
            limits.append(self.env_limit)
        return max(min(limits), 1)

    def to_dict(self) -> dict:
        return {
            "logical": self.logical,
            "available": self.available,
            "affinity": list(self.affinity),
            "quota": self.quota,
            "env_limit": self.env_limit,
        }


def cgroup_quota() -> float | None:
    """The cgroup CPU bandwidth limit in cores (v2, then v1), or None if there is none."""
    quota = period = None
    try:
        if CGROUP_V2_CPU_MAX.exists():
            parts = CGROUP_V2_CPU_MAX.read_text().split()
            if len(parts) == 2:
                quota, period = parts
        if quota is None and CGROUP_V1_QUOTA.exists() and CGROUP_V1_PERIOD.exists():
            quota = CGROUP_V1_QUOTA.read_text().strip()
            period = CGROUP_V1_PERIOD.read_text().strip()
        if quota is None or period is None or quota == "max":
            return None
        quota_us, period_us = int(quota), int(period)
    except (OSError, ValueError):
        return None
    if quota_us <= 0 or period_us <= 0:
        return None
    return quota_us / period_us


def _env_limit() -> int | None:
    raw = os.environ.get("LOKY_MAX_CPU_COUNT")
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise UsageError(f"LOKY_MAX_CPU_COUNT must be a whole number, not {raw!r}") from None
    return value  # zero or less leaves one core, for joblib and for `available` alike


def core_budget() -> CoreBudget:
    logical = os.cpu_count() or 1
    try:
        affinity = tuple(sorted(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        affinity = tuple(range(logical))
    return CoreBudget(logical, affinity, cgroup_quota(), _env_limit())


def available_cores() -> int:
    return core_budget().available


def digits_value(digits: str) -> int:
    """The number a string of ASCII digits writes; UsageError where it is longer than any
    count could be (int() gives up past 4,300 digits, leading zeros included, and a message
    would quote them all)."""
    significant = digits.lstrip("0") or "0"
    if len(significant) > MAX_DIGITS:
        raise UsageError(f"{significant[:MAX_DIGITS]}... is far too large a number")
    return int(significant)


def whole_number(text: str) -> int | None:
    """`text` as a whole number where it is one in ASCII digits (a minus sign first and
    spaces around allowed), else None. int() alone also reads other scripts' digits
    (Arabic-Indic, fullwidth), underscores ('1_0') and a plus sign."""
    text = text.strip()
    if not WHOLE_NUMBER.fullmatch(text):
        return None
    value = digits_value(text.lstrip("-"))
    return -value if text.startswith("-") else value


def check_core_count(
    count: int,
    available: int,
    described: str,
    *,
    per_core: int = CORES_PER_CORE,
    allow_oversubscribe: bool = False,
) -> None:
    """Refuse a count of workers or threads (`described`, such as "200 evaluation cores")
    that no machine has, or that is more than `per_core` per available core unless the
    user allows that with --allow-oversubscribe."""
    if count > MAX_CORES:
        raise UsageError(f"{described} is beyond any machine: the most is {MAX_CORES}")
    cap = per_core * available
    if count > cap and not allow_oversubscribe:
        cores = "1 core" if available == 1 else f"{available} cores"
        raise UsageError(
            f"{described} is too many for the {cores} available: the most is {cap}, "
            f"{per_core} per core ({OVERSUBSCRIBE_FLAG} lifts this limit)"
        )


def resolve_n_jobs(value: int | str, available: int, *, what: str = "n_jobs") -> int:
    """Turn an `n_jobs` value into a concrete worker count, the way joblib does.

    Positive values are taken as they are (above `available` they oversubscribe),
    -1 means every available core, -2 all but one, and so on; 0 is invalid.
    """
    if isinstance(value, str):
        number = whole_number(value)
        if number is None:
            raise UsageError(f"{what} must be a whole number of cores, not {value!r}")
        value = number
    if value == 0:
        raise UsageError(f"{what} cannot be 0: use 1 for one core or -1 for all {available}")
    if value > 0:
        return value
    resolved = available + 1 + value
    if resolved < 1:
        raise UsageError(
            f"{what}={value} leaves no core: with {available} available the lowest is -{available}"
        )
    return resolved


@dataclass(frozen=True)
class CoreSplit:
    """Cores given to model training (estimator n_jobs) and to evaluation (CV/search n_jobs)."""

    train: int
    eval: int
    available: int

    @classmethod
    def resolve(cls, train: int | str, eval: int | str, available: int | None = None):
        available = available_cores() if available is None else available
        return cls(
            train=resolve_n_jobs(train, available, what="training cores"),
            eval=resolve_n_jobs(eval, available, what="evaluation cores"),
            available=available,
        )

    @property
    def total(self) -> int:
        """Cores the split asks for at once: nested parallelism multiplies."""
        return self.train * self.eval

    @property
    def oversubscribed(self) -> bool:
        return self.total > self.available

    def check_limits(self, allow_oversubscribe: bool = False) -> None:
        """Refuse a split that would start more workers or threads than is sane: each count
        and their product at most CORES_PER_CORE per available core, unless allowed."""
        for count, described in (
            (self.train, f"{self.train} training cores"),
            (self.eval, f"{self.eval} evaluation cores"),
            (self.total, f"{self.train} x {self.eval} = {self.total} cores"),
        ):
            check_core_count(
                count, self.available, described, allow_oversubscribe=allow_oversubscribe
            )

    def demand(self, blas_threads: int | None = None) -> int:
        """Threads asked to run at once: evaluation workers x training threads in each x
        the BLAS/OpenMP threads each of those may start, where cpulab sets that number."""
        return self.total * (blas_threads or 1)

    def describe(self) -> str:
        text = f"{self.train} x {self.eval} = {self.total} of {self.available} cores"
        return text + " (oversubscribed)" if self.oversubscribed else text
