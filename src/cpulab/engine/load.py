"""How busy the machine is besides the experiment.

One rule for both faces: the runner flags a result "noisy" with it, and the live panel
says whether the machine is quiet enough to measure with it.
"""

from __future__ import annotations

import psutil

LOAD_KEYS = ("busy", "steal", "iowait")
# /proc/stat and per-process times count in clock ticks (10 ms): over a short measurement a
# few ticks of rounding must not pass for other work.
MIN_OTHER_SECONDS = 0.1


def cpu_seconds(cpus: tuple[int, ...]) -> dict[str, float]:
    """CPU seconds the given CPUs have spent busy, stolen and waiting on I/O, machine-wide."""
    per_cpu = psutil.cpu_times(percpu=True)
    totals = dict.fromkeys(LOAD_KEYS, 0.0)
    for cpu in cpus:
        if cpu < len(per_cpu):
            t = per_cpu[cpu]
            totals["busy"] += t.user + t.nice + t.system
            totals["busy"] += getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0)
            totals["steal"] += getattr(t, "steal", 0.0)
            totals["iowait"] += getattr(t, "iowait", 0.0)
    return totals


def noisy(load: dict[str, float], available: int, wall: float | None = None) -> bool:
    """Other work big enough to distort a measurement: a quarter of a core on a laptop,
    2 % of the machine on a large server, or a tenth of a core stolen by a hypervisor.

    `load` holds average cores (`other_cores`, `steal_cores`); with the `wall` seconds
    they were averaged over, other work must also add up to `MIN_OTHER_SECONDS`.
    """
    other = load["other_cores"]
    if wall is not None and other * wall < MIN_OTHER_SECONDS:
        other = 0.0
    return other >= max(0.25, 0.02 * available) or load["steal_cores"] >= 0.1
