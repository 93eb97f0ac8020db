"""Where the CPUs sit: packages (sockets), dies, physical cores and their SMT threads,
NUMA nodes, read from Linux's sysfs.

psutil's physical core count can be None or wrong (containers, some VMs); the sibling
lists of sysfs say which logical CPUs share a core. `root` is the sysfs directory, so tests
read fake trees. Where sysfs is missing (another OS, a sandbox), the fallback is one
package, one node and every CPU its own core, with SMT unknown.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SYSFS = Path("/sys")
CPU_DIR = Path("devices/system/cpu")
NODE_DIR = Path("devices/system/node")
READ_LIMIT = 64 * 1024  # bytes of one sysfs file: a cpulist of 4096 CPUs is far less
MAX_CPU_ID = 1 << 16  # a typo guard for a range such as "0-99999999"
CPU_NAME = re.compile(r"cpu([0-9]+)")
NODE_NAME = re.compile(r"node([0-9]+)")


def parse_cpulist(text: str) -> tuple[int, ...]:
    """The CPUs of a sysfs list such as "0-3,8-11" (empty for ""); ValueError if malformed."""
    cpus: set[int] = set()
    for part in text.strip().split(","):
        if not part:
            continue
        first, dash, last = part.partition("-")
        low, high = int(first), int(last if dash else first)
        if not 0 <= low <= high < MAX_CPU_ID:
            raise ValueError(f"not a CPU range: {part!r}")
        cpus.update(range(low, high + 1))
    return tuple(sorted(cpus))


def cpulist_text(cpus: tuple[int, ...] | list[int]) -> str:
    """CPUs written as sysfs writes them: "0-3,8-11"."""
    runs: list[list[int]] = []
    for cpu in sorted(set(cpus)):
        if runs and cpu == runs[-1][1] + 1:
            runs[-1][1] = cpu
        else:
            runs.append([cpu, cpu])
    texts = [str(low) if low == high else f"{low}-{high}" for low, high in runs]
    return ",".join(texts)


def _read(path: Path) -> str | None:
    try:
        with open(path) as fh:
            return fh.read(READ_LIMIT)
    except (OSError, UnicodeDecodeError):
        return None


def _number(path: Path) -> int | None:
    text = _read(path)
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _cpus(path: Path) -> tuple[int, ...] | None:
    text = _read(path)
    try:
        return parse_cpulist(text) if text is not None else None
    except ValueError:
        return None


@dataclass(frozen=True)
class CpuPlace:
    """Where one logical CPU is."""

    cpu: int
    package: int
    die: int
    core: int  # sysfs core_id: unique within its package and die only
    node: int


@dataclass(frozen=True)
class Topology:
    """The online CPUs of the machine and where each sits."""

    places: tuple[CpuPlace, ...]  # by CPU id
    siblings: tuple[tuple[int, ...], ...]  # the CPUs of each physical core, by first CPU
    isolated: tuple[int, ...] = ()  # isolcpus: kept from the scheduler's balancing
    smt_known: bool = True  # False for the fallback, which cannot tell threads from cores

    @property
    def cpus(self) -> tuple[int, ...]:
        return tuple(place.cpu for place in self.places)

    @property
    def physical_cores(self) -> int:
        return len(self.siblings)

    @property
    def packages(self) -> tuple[int, ...]:
        return tuple(sorted({place.package for place in self.places}))

    @property
    def nodes(self) -> tuple[int, ...]:
        return tuple(sorted({place.node for place in self.places}))

    @property
    def threads_per_core(self) -> int:
        return max((len(group) for group in self.siblings), default=1)

    def smt_cores(self, cpus: tuple[int, ...]) -> int | None:
        """The physical cores `cpus` fall on, where SMT puts two of them on one core;
        None where it does not, or is not known: the count the scaling chart marks."""
        wanted = set(cpus)
        shared = [len(wanted.intersection(group)) for group in self.siblings]
        if not self.smt_known or max(shared, default=0) < 2:
            return None
        return sum(count > 0 for count in shared)

    def node_cpus(self, node: int) -> tuple[int, ...]:
        return tuple(place.cpu for place in self.places if place.node == node)

    def package_cores(self) -> dict[int, int]:
        """Physical cores in each package."""
        package_of = {place.cpu: place.package for place in self.places}
        counts: dict[int, int] = {}
        for group in self.siblings:
            package = package_of[group[0]]
            counts[package] = counts.get(package, 0) + 1
        return counts

    def summary(self) -> str:
        """One line: "2 packages x 16 cores x 2 threads, 2 NUMA nodes"."""
        packages = len(self.packages)
        per_package = set(self.package_cores().values())
        threads = {len(group) for group in self.siblings}
        if len(per_package) == 1 and len(threads) == 1:
            smt = f" x {_count(threads.pop(), 'thread')}" if self.smt_known else ", SMT unknown"
            shape = f"{_count(packages, 'package')} x {_count(per_package.pop(), 'core')}{smt}"
        else:  # uneven: CPUs offline or cores of different kinds
            shape = (
                f"{_count(self.physical_cores, 'core')} in {_count(packages, 'package')}, "
                f"{_count(len(self.places), 'thread')}"
            )
        text = f"{shape}, {_count(len(self.nodes), 'NUMA node')}"
        if self.isolated:
            text += f", isolated {cpulist_text(self.isolated)}"
        return text

    def to_dict(self) -> dict:
        return {
            "summary": self.summary(),
            "cpus": len(self.places),
            "physical_cores": self.physical_cores,
            "packages": len(self.packages),
            "numa_nodes": {str(node): cpulist_text(self.node_cpus(node)) for node in self.nodes},
            "threads_per_core": self.threads_per_core if self.smt_known else None,
            "isolated": cpulist_text(self.isolated),
            "smt_known": self.smt_known,
        }


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def fallback_topology(cpus: tuple[int, ...]) -> Topology:
    """What is assumed without sysfs: one package, one node, each CPU its own core."""
    places = tuple(CpuPlace(cpu, 0, 0, cpu, 0) for cpu in cpus)
    return Topology(places, tuple((cpu,) for cpu in cpus), (), smt_known=False)


def read_topology(root: Path | str = SYSFS) -> Topology:
    """The topology under `root` (a sysfs mount, or a fake tree in tests)."""
    cpu_dir = Path(root) / CPU_DIR
    cpus = _cpus(cpu_dir / "online")
    if cpus is None:  # no online list: the CPU directories there are
        try:
            names = os.listdir(cpu_dir)
        except OSError:
            names = []
        cpus = tuple(sorted(int(m[1]) for name in names if (m := CPU_NAME.fullmatch(name))))
    if not cpus:
        return fallback_topology(tuple(range(os.cpu_count() or 1)))
    online = set(cpus)
    node_of = _nodes(Path(root) / NODE_DIR)
    places: list[CpuPlace] = []
    groups: dict[tuple[int, ...], None] = {}  # in order of first appearance
    found_topology = False
    for cpu in cpus:
        where = cpu_dir / f"cpu{cpu}" / "topology"
        package = _number(where / "physical_package_id")
        core = _number(where / "core_id")
        found_topology |= package is not None and core is not None
        place = CpuPlace(
            cpu,
            package if package is not None and package >= 0 else 0,
            max(_number(where / "die_id") or 0, 0),
            core if core is not None else cpu,
            node_of.get(cpu, 0),
        )
        places.append(place)
        siblings = _cpus(where / "core_cpus_list") or _cpus(where / "thread_siblings_list")
        group = tuple(c for c in siblings or () if c in online) or None
        if group is None:  # no list: the CPUs with the same package, die and core
            group = (cpu,)
        groups.setdefault(tuple(sorted(set(group) | {cpu})), None)
    if not found_topology:
        return fallback_topology(cpus)
    isolated = tuple(c for c in _cpus(cpu_dir / "isolated") or () if c in online)
    return Topology(tuple(places), _merge(list(groups)), isolated)


def _nodes(node_dir: Path) -> dict[int, int]:
    """The NUMA node of each CPU; empty where the kernel has no node directory."""
    try:
        names = os.listdir(node_dir)
    except OSError:
        return {}
    node_of: dict[int, int] = {}
    for name in names:
        if match := NODE_NAME.fullmatch(name):
            for cpu in _cpus(node_dir / name / "cpulist") or ():
                node_of.setdefault(cpu, int(match[1]))
    return node_of


def _merge(groups: list[tuple[int, ...]]) -> tuple[tuple[int, ...], ...]:
    """Sibling groups as disjoint sets: each CPU's own list names its whole core, but a
    malformed tree could list a CPU in two; those two are one core then."""
    core_of: dict[int, int] = {}
    merged: list[set[int]] = []
    for group in groups:
        known = {core_of[cpu] for cpu in group if cpu in core_of}
        if known:
            target = min(known)
            for other in sorted(known - {target}, reverse=True):
                merged[target] |= merged[other]
                merged[other] = set()
            merged[target] |= set(group)
        else:
            target = len(merged)
            merged.append(set(group))
        for cpu in merged[target]:
            core_of[cpu] = target
    return tuple(sorted((tuple(sorted(g)) for g in merged if g), key=lambda g: g[0]))


@cache
def machine_topology() -> Topology:
    """This machine's topology, read once: cheap enough for the UI process (no
    scikit-learn), a few hundred small sysfs reads on a 256-thread machine."""
    return read_topology()
