"""A cgroup of the run's own, where the machine lets cpulab make one (cgroup v2).

A process tree and a process group miss a process that double-forks into a session of
its own; a cgroup does not: every process the runner starts stays in it, however it
detaches, and `kill()` ends them all. The group is a child of cpulab's own cgroup, which
needs that one to be writable (root, or a delegated systemd user scope); elsewhere
`RunCgroup.create` returns None and the tree and group kill is all there is. The same
group counts the run's CPU in one file, `cpu_seconds`, for whoever watches the run.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import time
from pathlib import Path

PROC_CGROUP = Path("/proc/self/cgroup")
PROC_MOUNTS = Path("/proc/self/mountinfo")
CPU_STAT_LIMIT = 4096  # bytes: cpu.stat is a dozen short lines
KILL_WAIT = 2.0  # seconds for the members to be gone after the kill
PREFIX = "cpulab-run-"  # then the pid of the cpulab that made it, and a serial number
_serial = itertools.count(1)


def cgroup2_root(mountinfo: Path | None = None) -> Path | None:
    """Where the cgroup v2 hierarchy is mounted, or None; from `mountinfo`, default this
    process's own."""
    try:
        lines = (mountinfo or PROC_MOUNTS).read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        # "... mount-point options - fstype source super-options"
        fields, _, rest = line.partition(" - ")
        if rest.split(" ", 1)[0] == "cgroup2":
            return Path(fields.split()[4])
    return None


def own_cgroup() -> Path | None:
    """This process's cgroup v2 directory, or None where there is none to use."""
    return cgroup_of(PROC_CGROUP)


def cgroup_of(proc_cgroup: Path, root: Path | None = None) -> Path | None:
    """The cgroup v2 directory that a /proc/PID/cgroup file names, or None; below the
    hierarchy's mount `root`, default where this process sees it."""
    root = cgroup2_root() if root is None else root
    if root is None:
        return None
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith("0::"):
            return root / line[3:].lstrip("/")
    return None


def run_cgroup_of(pid: int) -> Path | None:
    """The run cgroup that process `pid` is in, or None: only a group cpulab made for a
    run, never cpulab's own or anyone else's."""
    path = cgroup_of(Path(f"/proc/{pid}/cgroup"))
    if path is None or not path.name.startswith(PREFIX):
        return None
    return path


def cpu_seconds(path: Path) -> float | None:
    """CPU seconds used in the cgroup so far, by every process ever in it, those gone and
    those that left their tree included; None if it cannot be read (removed)."""
    try:  # the cgroup's core statistics: present without the cpu controller enabled
        fd = os.open(path / "cpu.stat", os.O_RDONLY)
    except OSError:
        return None
    try:
        data = os.read(fd, CPU_STAT_LIMIT)
    except OSError:
        return None
    finally:
        os.close(fd)
    for line in data.splitlines():
        name, _, value = line.partition(b" ")
        if name == b"usage_usec":
            try:
                return int(value) / 1e6
            except ValueError:
                return None
    return None


def _remove_abandoned(parent: Path) -> None:
    """Remove the empty run cgroups of cpulabs that died before they could (kill -9)."""
    for path in parent.glob(f"{PREFIX}*"):
        owner = path.name[len(PREFIX) :].partition("-")[0]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            with contextlib.suppress(OSError):  # not empty, or gone meanwhile
                path.rmdir()


class RunCgroup:
    """One run's cgroup: `add` the runner as it starts, `kill` everything in it at the end,
    then `remove` it."""

    def __init__(self, path: Path):
        self.path = path

    @classmethod
    def create(cls) -> RunCgroup | None:
        """A new, empty cgroup below this process's own; None where none can be made."""
        parent = own_cgroup()
        if parent is None:
            return None
        _remove_abandoned(parent)
        path = parent / f"{PREFIX}{os.getpid()}-{next(_serial)}"
        try:
            path.mkdir()
        except OSError:  # not delegated to us, read-only, or no cgroup v2 at all
            return None
        return cls(path)

    def add(self, pid: int) -> bool:
        """Move `pid` into the group; what it starts from then on is in it too."""
        try:
            (self.path / "cgroup.procs").write_text(str(pid))
        except OSError:
            return False
        return True

    def pids(self) -> list[int]:
        try:
            text = (self.path / "cgroup.procs").read_text()
        except OSError:
            return []
        return [int(line) for line in text.split()]

    def kill(self) -> None:
        """SIGKILL every process in the group, and wait briefly until they are gone."""
        kill_file = self.path / "cgroup.kill"  # Linux 5.14 and later: one write kills all
        try:
            kill_file.write_text("1")
        except OSError:
            for pid in self.pids():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + KILL_WAIT
        while self.pids() and time.monotonic() < deadline:
            time.sleep(0.01)

    def remove(self) -> None:
        """Delete the group once it is empty."""
        with contextlib.suppress(OSError):
            self.path.rmdir()


def cgroups_available() -> bool:
    """Whether runs here get a cgroup of their own (tried, then undone)."""
    probe = RunCgroup.create()
    if probe is None:
        return False
    probe.remove()
    return True


def memory_max(path: Path | None = None, root: Path | None = None) -> tuple[int, Path] | None:
    """The lowest memory.max from cgroup `path` (default: this process's own) up to the
    hierarchy's `root`, and the cgroup that sets it: every ancestor's limit holds too.
    None where no cgroup sets one ("max"), or there is no cgroup v2."""
    path = own_cgroup() if path is None else path
    root = cgroup2_root() if root is None else root
    if path is None or root is None:
        return None
    lowest: tuple[int, Path] | None = None
    for folder in (path, *path.parents):
        try:
            text = (folder / "memory.max").read_text()[:64].strip()
        except (OSError, UnicodeDecodeError):
            text = ""  # the root has none, and a cgroup without the controller neither
        if text.isascii() and text.isdigit() and (lowest is None or int(text) < lowest[0]):
            lowest = (int(text), folder)
        if folder == root:
            break
    return lowest
