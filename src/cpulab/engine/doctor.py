"""What makes measurements unstable on this machine, item by item, with advice: the CPU
frequency governor and turbo, SMT, isolated CPUs, the cgroup's CPU quota and memory limit,
other processes' load and steal time, the BLAS/OpenMP libraries' default threads, free
memory. After pyperf's `system show`, which knows nothing of joblib or containers.

Read-only. `root` is the filesystem root that sysfs and procfs are read under, so tests
read fake trees. The runner stores `summary(gather(sample=0, libraries=False))` with every
result (cheap: a few small sysfs reads, no load sampling, which the runner measures
itself); `cpulab doctor` shows every item, and a sweep warns of the `noisy_items` first.

Standard library and psutil only: the BLAS/OpenMP libraries are read by threadpoolctl in
a child interpreter, which loads them as a run does.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

from cpulab.engine.cgroup import cgroup2_root, cgroup_of, memory_max
from cpulab.engine.load import cpu_seconds, noisy
from cpulab.engine.memory import size_text
from cpulab.engine.topology import cpulist_text, parse_cpulist, read_topology

OK, WARN, INFO = "ok", "warn", "info"
ROOT = Path("/")
CPU_DIR = "sys/devices/system/cpu"
READ_LIMIT = 64 * 1024  # bytes of one sysfs or procfs file: every one read here is far less
MAX_CPUS = 4096  # governors read at most: far more than any machine cpulab runs on
SAMPLE = 0.5  # seconds of /proc/stat that `cpulab doctor` takes the machine's load over
STABLE_GOVERNORS = ("performance",)
# The items that make a result vary from run to run, as the runner's "noisy" flag says
# (other load, steal) or as a clock that follows the load or the temperature does.
NOISY = ("governor", "turbo", "other_load", "steal")
V1_UNLIMITED = 1 << 62  # cgroup v1 writes "no limit" as the largest page-aligned int64
LOW_MEMORY = 0.1  # free memory below this share of the total is warned of
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
LIBRARY_TIMEOUT = 60.0  # seconds for the child that loads numpy, SciPy and scikit-learn
# The child loads what a run loads: numpy's and SciPy's BLAS, scikit-learn's OpenMP.
LIBRARY_SCRIPT = """
import contextlib, json
for name in ("numpy", "scipy.linalg", "sklearn.ensemble"):
    with contextlib.suppress(ImportError):
        __import__(name)
from cpulab.engine.machine import thread_pools
print(json.dumps(thread_pools()))
"""


# Every item, in the order they are shown, and its title.
TITLES = {
    "topology": "topology",
    "governor": "CPU governor",
    "turbo": "turbo",
    "smt": "SMT",
    "isolated": "isolated CPUs",
    "cpu_quota": "CPU quota",
    "memory_limit": "memory limit",
    "free_memory": "free memory",
    "other_load": "other load",
    "steal": "steal time",
    "blas": "BLAS/OpenMP",
}


@dataclass(frozen=True)
class Check:
    """One item: which (`name`, a key of TITLES), what this machine has (`value`),
    whether it is fine for measuring (`status`: ok, warn, or info where it only says what
    is), and what to do about it."""

    name: str
    value: str
    status: str
    advice: str = ""

    @property
    def title(self) -> str:
        return TITLES.get(self.name, self.name)

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "title": self.title, **asdict(self)}


def _read(path: Path) -> str | None:
    """The first bytes of a small file, stripped; None where it cannot be read."""
    try:
        with open(path) as fh:
            return fh.read(READ_LIMIT).strip()
    except (OSError, UnicodeDecodeError):
        return None


def _cpu_ids(root: Path) -> list[int]:
    names = (p.name[3:] for p in (root / CPU_DIR).glob("cpu[0-9]*"))
    return sorted(int(n) for n in names if n.isdigit())[:MAX_CPUS]


def _cpus_text(cpus: Iterable[int]) -> str:
    cpus = list(cpus)
    return f"CPU {cpulist_text(cpus)}" if len(cpus) == 1 else f"CPUs {cpulist_text(cpus)}"


def governor_check(root: Path = ROOT) -> Check:
    cpu_dir = root / CPU_DIR
    governors: dict[str, list[int]] = {}
    for cpu in _cpu_ids(root):
        governor = _read(cpu_dir / f"cpu{cpu}/cpufreq/scaling_governor")
        if governor:
            governors.setdefault(governor, []).append(cpu)
    if not governors:
        return Check(
            "governor",
            "not reported",
            INFO,
            "no cpufreq here (a virtual machine or a container): whoever runs the host "
            "sets the clock",
        )
    value = ", ".join(f"{name} on {_cpus_text(cpus)}" for name, cpus in governors.items())
    unstable = [name for name in governors if name not in STABLE_GOVERNORS]
    if not unstable:
        return Check("governor", value, OK)
    return Check(
        "governor",
        value,
        WARN,
        f"{' and '.join(unstable)} changes the clock with the load, so a run's speed "
        "depends on what ran just before it: sudo cpupower frequency-set -g performance",
    )


def turbo_check(root: Path = ROOT) -> Check:
    cpu_dir = root / CPU_DIR
    no_turbo = _read(cpu_dir / "intel_pstate/no_turbo")
    boost = _read(cpu_dir / "cpufreq/boost")
    if no_turbo in ("0", "1"):
        on, source = no_turbo == "0", "intel_pstate"
        off_command = f"echo 1 | sudo tee /{CPU_DIR}/intel_pstate/no_turbo"
    elif boost in ("0", "1"):
        on, source = boost == "1", "cpufreq boost"
        off_command = f"echo 0 | sudo tee /{CPU_DIR}/cpufreq/boost"
    else:
        return Check("turbo", "not reported", INFO, "no turbo control here")
    if not on:
        return Check("turbo", f"off ({source})", OK)
    return Check(
        "turbo",
        f"on ({source})",
        WARN,
        "the turbo clock depends on the temperature and on how many cores are busy, so "
        "times vary and a 1-core run is faster per core than a many-core one: " + off_command,
    )


def topology_check(root: Path = ROOT) -> Check:
    """Packages, cores, threads and NUMA nodes, as sysfs says (psutil's physical count is
    not to be trusted): what --pin places workers on."""
    topology = read_topology(root / "sys")
    return Check(
        "topology",
        topology.summary(),
        INFO,
        "--pin physical puts workers on distinct physical cores first, siblings packs "
        "SMT pairs, numa spreads them over the nodes",
    )


def smt_check(root: Path = ROOT) -> Check:
    control = _read(root / CPU_DIR / "smt/control")
    active = _read(root / CPU_DIR / "smt/active")
    if control in ("on", "off", "forceoff") and active in ("0", "1"):
        if active == "1":
            return Check(
                "smt",
                f"on (control {control})",
                INFO,
                "two threads of a core share its units: counts beyond the physical cores "
                "measure SMT threads, which add far less than cores",
            )
        return Check("smt", f"off (control {control})", INFO)
    if control in ("notsupported", "notimplemented"):
        return Check("smt", "not supported", INFO)
    return Check("smt", "not reported", INFO)


def isolated_check(root: Path = ROOT, affinity: Sequence[int] | None = None) -> Check:
    text = _read(root / CPU_DIR / "isolated")
    try:
        isolated = parse_cpulist(text) if text is not None else None
    except ValueError:
        isolated = None
    if isolated is None:
        return Check("isolated", "not reported", INFO)
    if not isolated:
        return Check(
            "isolated",
            "none",
            INFO,
            "isolcpus=LIST on the kernel command line keeps other work off the CPUs a "
            "run is measured on (then run cpulab under taskset -c LIST)",
        )
    value = cpulist_text(isolated)
    if affinity is not None and not set(isolated) & set(affinity):
        return Check(
            "isolated",
            value,
            INFO,
            f"cpulab may not use them: run it under taskset -c {value} to measure there",
        )
    return Check("isolated", value, OK)


def own_cgroup(root: Path = ROOT) -> tuple[Path, Path] | None:
    """This process's cgroup v2 directory and the hierarchy's mount, both under `root`,
    following /proc/self/cgroup; None without cgroup v2."""
    mount = cgroup2_root(root / "proc/self/mountinfo")
    if mount is None:
        return None
    mount = root / mount.relative_to("/")
    own = cgroup_of(root / "proc/self/cgroup", mount)
    return None if own is None else (own, mount)


def _v1_folder(root: Path, controller: str) -> Path | None:
    """This process's cgroup v1 folder of `controller`, else that hierarchy's top (in a
    container, /proc/self/cgroup names a host path that is not mounted there)."""
    top = root / "sys/fs/cgroup" / controller
    for line in (_read(root / "proc/self/cgroup") or "").splitlines():
        parts = line.split(":", 2)  # "4:memory:/path"
        if len(parts) == 3 and controller in parts[1].split(","):
            folder = top / parts[2].lstrip("/")
            if folder.is_dir():
                return folder
    return top if top.is_dir() else None


def cpu_quota(root: Path = ROOT) -> tuple[float, Path] | None:
    """The lowest CPU bandwidth limit on this process, in CPUs, and the file that sets
    it: cgroup v2 from its own cgroup up to the top (every ancestor's limit holds too),
    else cgroup v1's cpu controller (a hybrid machine has both); None without one."""
    lowest: tuple[float, Path] | None = None
    found = own_cgroup(root)
    if found is not None:
        own, mount = found
        for folder in (own, *own.parents):
            quota = _quota_of((_read(folder / "cpu.max") or "").split())
            if quota is not None and (lowest is None or quota < lowest[0]):
                lowest = (quota, folder / "cpu.max")
            if folder == mount:
                break
    v1 = _v1_folder(root, "cpu")
    if lowest is None and v1 is not None:
        quota = _quota_of([_read(v1 / f"cpu.cfs_{n}_us") or "" for n in ("quota", "period")])
        if quota is not None:
            lowest = (quota, v1 / "cpu.cfs_quota_us")
    return lowest


def _quota_of(fields: list[str]) -> float | None:
    """CPUs from a quota and a period in microseconds ("150000 100000": 1.5); None for
    "max", -1 or anything unreadable."""
    if len(fields) != 2 or not all(f.isascii() and f.isdigit() for f in fields):
        return None
    quota, period = int(fields[0]), int(fields[1])
    return quota / period if quota > 0 and period > 0 else None


def _shown(path: Path, root: Path) -> str:
    """A path as it is on the machine: without the fake root of a test."""
    return "/" + str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def quota_check(root: Path = ROOT, cpus: int | None = None) -> Check:
    found = cpu_quota(root)
    if found is None or (cpus is not None and found[0] >= cpus):
        return Check("cpu_quota", "none below the CPUs cpulab may use", OK)
    quota, path = found
    value = f"{quota:g} CPUs ({_shown(path, root)})"
    counted = max(math.ceil(quota), 1)
    if quota == counted:
        return Check(
            "cpu_quota",
            value,
            INFO,
            f"joblib and cpulab count {counted} cores: a run beyond them is throttled",
        )
    return Check(
        "cpu_quota",
        value,
        WARN,
        f"joblib counts {counted} cores, but the kernel stops the run for the rest of each "
        f"period once it has used {quota:g} CPUs: times at {counted} cores are throttled "
        "and jittery. Ask for a whole number of CPUs",
    )


def memory_cgroup_limit(root: Path = ROOT) -> tuple[int, Path] | None:
    """The lowest cgroup memory limit on this process, in bytes, and the folder that sets
    it: cgroup v2, else v1; None without one."""
    found = own_cgroup(root)
    limit = memory_max(*found) if found is not None else None
    folder = _v1_folder(root, "memory")
    if limit is None and folder is not None:
        text = _read(folder / "memory.limit_in_bytes") or ""
        if text.isascii() and text.isdigit() and int(text) < V1_UNLIMITED:
            limit = (int(text), folder)
    return limit


def memory_limit_check(root: Path = ROOT, physical: int | None = None) -> Check:
    found = memory_cgroup_limit(root)
    if found is None or (physical is not None and found[0] >= physical):
        return Check("memory_limit", "none below physical memory", OK)
    limit, folder = found
    return Check(
        "memory_limit",
        f"{size_text(limit)} ({_shown(folder, root)})",
        INFO,
        "a run whose workers together need more is killed by the kernel: cpulab refuses "
        "the runs its stored results predict to need more (--memory-limit, --allow-memory)",
    )


def memory_check(available: int, total: int) -> Check:
    value = f"{size_text(available)} free of {size_text(total)}"
    if total > 0 and available < LOW_MEMORY * total:
        return Check(
            "free_memory",
            value,
            WARN,
            "little is free: the kernel reclaims pages and swaps while a run measures, and "
            "every worker holds its own copy of the data. Close what you can",
        )
    return Check("free_memory", value, OK)


def load_checks(
    busy: float, steal: float, own: float, seconds: float, available: int
) -> list[Check]:
    """Other processes' load and steal time from CPU seconds over `seconds`: `busy` and
    `steal` of the CPUs cpulab may use, `own` this process tree's. The runner's rule
    (`load.noisy`) says what would flag a result."""
    other = max(busy - own, 0.0) / seconds
    stolen = steal / seconds
    checks = []
    if noisy({"other_cores": other, "steal_cores": 0.0}, available, seconds):
        checks.append(
            Check(
                "other_load",
                f"{other:.2f} cores busy with other processes",
                WARN,
                "results measured now would be flagged noisy: stop what else runs, or wait "
                "for it (top shows what)",
            )
        )
    else:
        checks.append(Check("other_load", f"{other:.2f} cores", OK))
    if noisy({"other_cores": 0.0, "steal_cores": stolen}, available):
        checks.append(
            Check(
                "steal",
                f"{stolen:.2f} cores taken by the hypervisor",
                WARN,
                "the host runs other machines on these CPUs: results vary with its load. A "
                "dedicated or bare-metal instance does not share",
            )
        )
    else:
        checks.append(Check("steal", f"{stolen:.2f} cores", OK))
    return checks


def _tree_seconds() -> float:
    """CPU seconds of this process and its children (a sweep's spare runner)."""
    me = psutil.Process()
    used = sum(me.cpu_times()[:2])
    for child in me.children(recursive=True):
        with contextlib.suppress(psutil.Error):  # ended meanwhile
            used += sum(child.cpu_times()[:2])
    return used


def sample_load(seconds: float, cpus: Sequence[int]) -> list[Check]:
    """Other load and steal on `cpus` over the next `seconds`."""
    before, own = cpu_seconds(tuple(cpus)), _tree_seconds()
    time.sleep(seconds)
    after, own_after = cpu_seconds(tuple(cpus)), _tree_seconds()
    return load_checks(
        after["busy"] - before["busy"],
        after["steal"] - before["steal"],
        own_after - own,
        seconds,
        len(cpus),
    )


def library_check(pools: list[dict[str, Any]] | None, cpus: int) -> Check:
    """The BLAS/OpenMP libraries a run loads and their default threads."""
    if pools is None:
        return Check("blas", "not read", INFO, "threadpoolctl could not be run")
    if not pools:
        return Check("blas", "none loaded", INFO)
    names = []
    for pool in pools:
        name = " ".join(str(pool[k]) for k in ("internal_api", "version") if pool.get(k))
        count = pool.get("num_threads")
        threads = "1 thread" if count == 1 else f"{count} threads"
        names.append(f"{name or pool.get('user_api') or 'unknown'}: {threads}")
    value = "; ".join(names)
    env = [f"{k}={os.environ[k]}" for k in THREAD_VARIABLES if k in os.environ]
    if env:
        value += f" ({', '.join(env)})"
    over = [p for p in pools if isinstance(p.get("num_threads"), int) and p["num_threads"] > cpus]
    if over:
        return Check(
            "blas",
            value,
            WARN,
            f"more threads than the {cpus} CPUs cpulab may use (a container's quota is "
            "invisible to some libraries): they fight for the cores. Give --blas-threads "
            f"{cpus}, or set OMP_NUM_THREADS",
        )
    return Check(
        "blas",
        value,
        INFO,
        "workers of a run get cores / workers threads each (joblib); --blas-threads sets them",
    )


def thread_pools_of_a_run() -> list[dict[str, Any]] | None:
    """The BLAS/OpenMP pools a fresh interpreter has once numpy, SciPy and scikit-learn
    are loaded; None where that fails."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", LIBRARY_SCRIPT],
            capture_output=True,
            text=True,
            timeout=LIBRARY_TIMEOUT,
            check=True,
        )
        pools = json.loads(done.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None
    return pools if isinstance(pools, list) else None


def affinity() -> tuple[int, ...]:
    try:
        return tuple(sorted(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return tuple(range(os.cpu_count() or 1))


def gather(
    root: Path = ROOT,
    sample: float = SAMPLE,
    libraries: bool = True,
    cpus: Sequence[int] | None = None,
) -> list[Check]:
    """Every item: the machine's settings read under `root`; other load and steal over
    `sample` seconds (none where 0); the libraries' threads where `libraries`."""
    cpus = affinity() if cpus is None else cpus
    memory = psutil.virtual_memory()
    checks = [
        topology_check(root),
        governor_check(root),
        turbo_check(root),
        smt_check(root),
        isolated_check(root, cpus),
        quota_check(root, len(cpus)),
        memory_limit_check(root, memory.total),
        memory_check(memory.available, memory.total),
    ]
    if sample > 0:
        checks += sample_load(sample, cpus)
    if libraries:
        checks.append(library_check(thread_pools_of_a_run(), len(cpus)))
    return checks


def summary(checks: Iterable[Check]) -> dict[str, Any]:
    """What a result stores: each item's value and status, and the advice of those warned."""
    return {
        c.name: {"value": c.value, "status": c.status}
        | ({"advice": c.advice} if c.status == WARN else {})
        for c in checks
    }


def noisy_items(checks: Iterable[Check]) -> list[Check]:
    """The warned items that make results vary from run to run (NOISY)."""
    return [c for c in checks if c.status == WARN and c.name in NOISY]


def conditions(root: Path = ROOT) -> dict[str, Any]:
    """The summary a runner stores with its results: no load sampling, no libraries."""
    return summary(gather(root, sample=0, libraries=False))


def sweep_warnings(sample: float = SAMPLE / 2) -> list[str]:
    """One line per item that would make a sweep's results noisy, to say before it starts."""
    return [
        f"{c.title}: {c.value}: {c.advice}"
        for c in noisy_items(gather(sample=sample, libraries=False))
    ]
