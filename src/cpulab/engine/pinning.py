"""Which CPUs a point runs on under each pinning strategy (`--pin`).

Given the machine's topology, the CPUs this process may use (its affinity) and the cores a
point uses (training x evaluation), each strategy chooses that many CPUs:

- `none`: no pinning; the scheduler places the work on any allowed CPU.
- `physical`: one thread of each of p distinct physical cores first. Cores are taken
  compactly, package by package in CPU order, not spread over packages: so a `physical`
  and a `siblings` sweep differ in SMT alone, and `numa` is the strategy that spreads.
- `siblings`: both threads of p/2 physical cores (SMT pairs packed), in the same order.
- `numa`: round-robin over the NUMA nodes, distinct physical cores first within each.

Where p is more than a strategy can give, it falls back and says so in its note: past the
physical cores `physical` adds SMT siblings; without SMT `siblings` is `physical`; with one
node `numa` is `physical`; past the allowed CPUs every one of them is used (oversubscribed).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

from cpulab.engine.errors import UsageError
from cpulab.engine.topology import Topology, cpulist_text

PIN_NONE = "none"
PIN_STRATEGIES = (PIN_NONE, "physical", "siblings", "numa")


def check_pin(name: str) -> str:
    """`name` if it is a strategy; UsageError naming them otherwise."""
    if name not in PIN_STRATEGIES:
        raise UsageError(
            f"unknown pinning {name!r}: choose {', '.join(PIN_STRATEGIES[:-1])} "
            f"or {PIN_STRATEGIES[-1]}"
        )
    return name


@dataclass(frozen=True)
class PinPlan:
    """The CPUs a point runs on, and why where the strategy could not give what it says."""

    strategy: str
    cpus: tuple[int, ...]  # sorted
    note: str | None = None

    def to_dict(self) -> dict:
        return {"strategy": self.strategy, "cpus": cpulist_text(self.cpus), "note": self.note}


def _cores(topology: Topology, allowed: set[int]) -> list[tuple[int, ...]]:
    """The allowed threads of each physical core with any, compactly ordered: by package,
    die, then first CPU."""
    places = {place.cpu: place for place in topology.places}
    cores = []
    for group in topology.siblings:
        threads = tuple(cpu for cpu in group if cpu in allowed)
        if threads:
            cores.append(threads)
    # CPUs the affinity allows that the topology does not know (hot-plugged since): own cores
    known = {cpu for group in topology.siblings for cpu in group}
    cores.extend((cpu,) for cpu in sorted(allowed - known))

    def order(threads: tuple[int, ...]) -> tuple[int, int, int]:
        place = places.get(threads[0])
        return (place.package, place.die, threads[0]) if place else (1 << 30, 0, threads[0])

    return sorted(cores, key=order)


def _physical_order(cores: list[tuple[int, ...]]) -> list[int]:
    """The first thread of every core, then the second of every core, and so on."""
    depth = max((len(threads) for threads in cores), default=0)
    return [threads[i] for i in range(depth) for threads in cores if i < len(threads)]


def plan_pinning(
    strategy: str, topology: Topology, allowed: tuple[int, ...] | list[int], cores: int
) -> PinPlan | None:
    """The CPUs for a point using `cores` cores; None for `none`, which pins nothing."""
    check_pin(strategy)
    allowed_set = set(allowed)
    if strategy == PIN_NONE or not allowed_set:
        return None
    wanted = max(cores, 1)
    physical = _cores(topology, allowed_set)
    notes: list[str] = []
    if wanted > len(allowed_set):
        notes.append(
            f"{wanted} cores asked, {len(allowed_set)} CPUs allowed: all of them, oversubscribed"
        )
        return PinPlan(strategy, tuple(sorted(allowed_set)), "; ".join(notes))
    if strategy == "numa":
        order = _numa_order(topology, physical)
        node_of = {place.cpu: place.node for place in topology.places}
        if len({node_of.get(cpu, 0) for cpu in allowed_set}) == 1:
            notes.append("one NUMA node: placed as physical")
    elif strategy == "siblings" and max(len(threads) for threads in physical) > 1:
        order = [cpu for threads in physical for cpu in threads]
    else:
        if strategy == "siblings":
            notes.append(
                "no SMT siblings known: one thread per core, as physical"
                if not topology.smt_known
                else "no SMT siblings: one thread per core, as physical"
            )
        order = _physical_order(physical)
    chosen = order[:wanted]
    if strategy in ("physical", "numa") and wanted > len(physical):
        notes.append(
            f"{wanted} cores asked, {len(physical)} physical cores allowed: "
            f"{wanted - len(physical)} on SMT siblings"
        )
    return PinPlan(strategy, tuple(sorted(chosen)), "; ".join(notes) or None)


def _numa_order(topology: Topology, cores: list[tuple[int, ...]]) -> list[int]:
    """Round-robin over the nodes, each node's CPUs in physical order."""
    node_of = {place.cpu: place.node for place in topology.places}
    by_node: dict[int, list[tuple[int, ...]]] = {}
    for threads in cores:
        by_node.setdefault(node_of.get(threads[0], 0), []).append(threads)
    queues = [_physical_order(by_node[node]) for node in sorted(by_node)]
    depth = max((len(queue) for queue in queues), default=0)
    return [queue[i] for i in range(depth) for queue in queues if i < len(queue)]


def pin_tree(cpus: tuple[int, ...]) -> None:
    """Put this process, every process it started and every thread of each on `cpus`.

    Workers started later inherit the affinity of the thread that starts them; those
    already running (loky keeps its workers from one point to the next, and their BLAS
    thread pools) are pinned here, thread by thread: on Linux an affinity belongs to a
    thread, and psutil's cpu_affinity sets the main thread's only."""
    import psutil

    os.sched_setaffinity(0, cpus)  # this thread first: an impossible set fails here, loudly
    processes = [psutil.Process(), *psutil.Process().children(recursive=True)]
    for process in processes:
        try:
            threads = [int(tid) for tid in os.listdir(f"/proc/{process.pid}/task")]
        except (OSError, ValueError):
            threads = [process.pid]
        for tid in threads:
            # A thread or worker that has just ended is no longer there to pin.
            with contextlib.suppress(OSError):
                os.sched_setaffinity(tid, cpus)
