"""The processes of a tree, read cheaply enough to do it four times a second at 256 of them.

psutil's `children(recursive=True)` reads every process on the machine to find a tree, and
each `Process` call goes through layers of Python: 60-100 us a member in all. On Linux,
`ProcTree` reads /proc itself, 5-10 us a member: one read of `/proc/PID/stat` (ppid, CPU,
memory and start in one line), and the rest of the machine only when a process has
started since the last look, then only the processes it has not seen before. `PsutilTree`
is the same through psutil, for platforms without /proc (bench/sampler_cost.py compares).

Memory beyond the resident set comes from `read_memory`: the pages a process alone holds
(USS) and its proportional share of those it shares (PSS), from /proc/PID/smaps_rollup.
The kernel walks the process's mappings and page tables for it: 0.3 to 0.9 ms of CPU for a
200 MB process of 300 mappings here, ten times a stat read or more, nearly all of it in the
kernel with the GIL released (see treemeter.MEMORY_EVERY for how seldom the runner asks).

Membership sticks: a process joins when its parent is a member, and stays until it ends,
even if its parent ends first and it is handed to init (as the psutil readers before
this one did). A process whose parent ends before it is first seen is missed; a cgroup
does not miss it (see `cgroup.cpu_seconds`).
"""

from __future__ import annotations

import contextlib
import os
from typing import NamedTuple, Protocol

import psutil

PROC = "/proc"
LAST_PID = "/proc/sys/kernel/ns_last_pid"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
# A stat line is about 300 bytes; even a 64-byte kernel thread name with every field at
# its widest stays under 1,500.
STAT_LIMIT = 4096
# smaps_rollup is a header and about 20 "Name: N kB" lines.
ROLLUP_LIMIT = 4096
KEEP_FILES = 1024  # open stat files a reader keeps at most, and a quarter of the fd limit

Key = tuple[int, float]  # a pid and its process's start: pids are reused, the pair is not


class ProcStat(NamedTuple):
    """One process, as read in one go."""

    pid: int
    ppid: int | None  # None where it is left unread (PsutilTree)
    start: float  # when it started, in the reader's own units: only compared
    cpu: float  # seconds of user and system time, all its threads
    children_cpu: float  # seconds its reaped children used, with their own reaped children
    rss: int  # bytes
    state: str = ""  # as /proc gives it: "R" running, "Z" ended and not yet waited for...

    @property
    def key(self) -> Key:
        return (self.pid, self.start)


# A named tuple's own constructor is a Python function (a tenth of a parse): every field
# is given here, so the tuple is made directly.
_new_stat = tuple.__new__


class Memory(NamedTuple):
    """A process's unique and proportional memory, in bytes."""

    uss: int  # pages no other process maps: what ending it would free
    pss: int  # each page divided by the processes that map it: sums to the tree's total


class TreeReader(Protocol):
    def read(self) -> dict[Key, ProcStat]:
        """The tree's members alive now; one missing since the last read has ended."""
        ...

    def close(self) -> None:
        """Let go of what the reader holds open; it can still read, opening anew."""
        ...


def parse_stat(pid: int, data: bytes) -> ProcStat | None:
    """A /proc/PID/stat line, or None if it is not one."""
    # The name, in parentheses, may hold spaces and ")" itself: fields follow the last ")".
    end = data.rfind(b")")
    if end < 0:
        return None
    fields = data[end + 2 :].split(None, 22)  # up to rss; the other 30 are not needed
    try:  # proc(5): state is field 3, so field n is fields[n - 3]
        return _new_stat(
            ProcStat,
            (
                pid,
                int(fields[1]),  # ppid
                int(fields[19]),  # starttime
                (int(fields[11]) + int(fields[12])) / CLOCK_TICKS,  # utime, stime
                (int(fields[13]) + int(fields[14])) / CLOCK_TICKS,  # cutime, cstime
                int(fields[21]) * PAGE_SIZE,  # rss
                fields[0].decode("ascii", "replace"),  # state
            ),
        )
    except (IndexError, ValueError):
        return None


def _read(path: str, limit: int) -> bytes | None:
    # os.open and os.read: open() builds a buffered file object, a third of the cost here.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.read(fd, limit)
    except OSError:  # ESRCH: it ended between the open and the read
        return None
    finally:
        os.close(fd)


def read_stat(pid: int) -> ProcStat | None:
    """Process `pid` now, or None if it has ended (or never was)."""
    data = _read(f"{PROC}/{pid}/stat", STAT_LIMIT)
    return None if data is None else parse_stat(pid, data)


def parse_rollup(data: bytes) -> Memory | None:
    """A /proc/PID/smaps_rollup, or None if it is not one."""
    kib: dict[bytes, int] = {}
    for line in data.splitlines():
        name, _, rest = line.partition(b":")
        if name in (b"Pss", b"Private_Clean", b"Private_Dirty"):
            try:
                kib[name] = int(rest.split()[0])
            except (IndexError, ValueError):
                return None
    if len(kib) < 3:
        return None
    return Memory(uss=(kib[b"Private_Clean"] + kib[b"Private_Dirty"]) << 10, pss=kib[b"Pss"] << 10)


def read_memory(pid: int) -> Memory | None:
    """Process `pid`'s USS and PSS now, or None if it has ended or cannot be read. Through
    psutil where there is no smaps_rollup (Linux before 4.14, other platforms; PSS is
    then the USS where psutil has none)."""
    data = _read(f"{PROC}/{pid}/smaps_rollup", ROLLUP_LIMIT)
    if data is not None:
        return parse_rollup(data)
    try:
        info = psutil.Process(pid).memory_full_info()
    except (psutil.Error, OSError):
        return None
    return Memory(uss=info.uss, pss=getattr(info, "pss", info.uss))


def is_helper(pid: int) -> bool:
    """Whether `pid` is a resource tracker of joblib's or multiprocessing's: a process of
    the tree that runs no jobs. A process forked a moment ago may not have exec'd its
    program yet, so only a True answer is for good."""
    if has_proc():
        data = _read(f"{PROC}/{pid}/cmdline", STAT_LIMIT) or b""
        return b"resource_tracker" in data
    try:
        return any("resource_tracker" in part for part in psutil.Process(pid).cmdline())
    except psutil.Error:
        return False


def files_to_keep() -> int:
    """How many stat files a reader may keep open: a share of this process's limit, so
    that the measured task (the runner's reader is in its process) never runs short."""
    import resource  # POSIX only, as is ProcTree

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return KEEP_FILES
    return max(0, min(KEEP_FILES, soft // 4))


def _listing() -> dict[int, int]:
    """Every process on the machine, with the inode of its /proc entry: a new process
    under a reused pid has a new entry, so a different inode."""
    return {int(e.name): e.inode() for e in os.scandir(PROC) if e.name.isdigit()}


class ProcTree:
    """A process and its descendants, from /proc (Linux).

    Each member's stat file stays open between reads (up to `keep_files` of them): a
    re-read from the start of an open file costs half of an open, read and close, and an
    open file names one process for good: once it has ended the read fails, whoever has
    its pid by then. Call `close` when done.
    """

    def __init__(self, root: int, keep_files: int | None = None):
        self._files: dict[int, int] = {}  # pid -> descriptor of its open stat file
        self.root = root
        self.keep_files = files_to_keep() if keep_files is None else keep_files
        self._members: dict[int, float] = {}  # pid -> start, of each member alive
        self._others: dict[int, int] = {}  # pid -> inode: seen, and not members
        self._last_pid: bytes | None = None
        self._begun = False

    def read(self) -> dict[Key, ProcStat]:
        found: dict[Key, ProcStat] = {}
        if not self._begun:
            self._begun = True
            root = read_stat(self.root)
            if root is None:
                return {}  # nothing can join a tree that has no members
            self._members[root.pid] = root.start
        # The loop of every sample, at every member: kept files are read here, not through
        # a method call a member.
        files, pread = self._files, os.pread
        for pid, start in list(self._members.items()):
            fd = files.get(pid)
            if fd is None:
                stat = self._reread(pid)
            else:
                try:
                    stat = parse_stat(pid, pread(fd, STAT_LIMIT, 0))
                except OSError:  # ESRCH: it has ended
                    stat = None
            if stat is None or stat.start != start:  # ended; its pid may be another's now
                del self._members[pid]
                self._close(pid)
            else:
                found[pid, start] = stat
        if self._members and self._spawned():
            self._discover(found)
        return found

    def close(self) -> None:
        for pid in list(self._files):
            self._close(pid)

    def __del__(self) -> None:
        self.close()

    def _reread(self, pid: int) -> ProcStat | None:
        fd = self._files.get(pid)
        if fd is None:
            if len(self._files) >= self.keep_files:
                return read_stat(pid)
            try:
                fd = self._files[pid] = os.open(f"{PROC}/{pid}/stat", os.O_RDONLY)
            except OSError:
                return None
        try:
            data = os.pread(fd, STAT_LIMIT, 0)
        except OSError:  # ESRCH: it has ended
            return None
        return parse_stat(pid, data)

    def _close(self, pid: int) -> None:
        fd = self._files.pop(pid, None)
        if fd is not None:
            os.close(fd)

    def _spawned(self) -> bool:
        """Whether a process (or thread) may have started since the last look. The kernel's
        last pid handed out tells, where it says; an idle tree then costs no listing."""
        last = _read(LAST_PID, 64)
        changed = last is None or last != self._last_pid
        self._last_pid = last
        return changed

    def _discover(self, found: dict[Key, ProcStat]) -> None:
        listed = _listing()
        for pid in self._others.keys() - listed.keys():
            del self._others[pid]
        fresh = [
            stat
            for pid, inode in listed.items()
            if pid not in self._members and self._others.get(pid) != inode
            if (stat := read_stat(pid)) is not None
        ]
        # A parent starts before its children, so one pass in that order mostly settles
        # it; a tie in start ticks can put a child first, which the next pass catches.
        pending = {stat.pid: stat for stat in sorted(fresh, key=lambda stat: stat.start)}
        joined = True
        while joined:
            joined = False
            for pid, stat in list(pending.items()):
                if stat.ppid in self._members:
                    self._members[pid] = stat.start
                    found[pid, stat.start] = stat
                    del pending[pid]
                    joined = True
        for pid in pending:
            self._others[pid] = listed[pid]


class PsutilTree:
    """The same through psutil, for platforms without /proc: `children(recursive=True)`
    looks at every process on the machine, every read."""

    def __init__(self, root: int, memory: bool = True):
        self.root = root
        self.memory = memory  # an extra file a process on Linux: only for those who use it
        self._procs: dict[int, psutil.Process] = {}

    def read(self) -> dict[Key, ProcStat]:
        try:
            root = self._procs.get(self.root) or psutil.Process(self.root)
            found = [root, *root.children(recursive=True)]
        except psutil.Error:
            found = []  # the root has ended; its known descendants still count
        for proc in found:
            self._procs.setdefault(proc.pid, proc)  # one Process a member: psutil caches in it
        stats: dict[Key, ProcStat] = {}
        for pid, proc in list(self._procs.items()):
            try:
                # A oneshot costs more than it saves for one call; psutil's ppid() costs
                # as much as cpu_times() even in one, so it is left unread.
                with proc.oneshot() if self.memory else contextlib.nullcontext():
                    times = proc.cpu_times()
                    rss = proc.memory_info().rss if self.memory else 0
                start = proc.create_time()  # read once, then kept in the Process
            except psutil.Error:
                del self._procs[pid]
                continue
            cpu = times.user + times.system
            children = times.children_user + times.children_system
            stat = ProcStat(pid, None, start, cpu, children, rss)
            stats[stat.key] = stat
        return stats

    def close(self) -> None:
        pass


def has_proc() -> bool:
    return os.path.exists(f"{PROC}/self/stat")


def tree_reader(root: int, memory: bool = True) -> TreeReader:
    """The cheapest reader of the tree under `root` this platform has."""
    return ProcTree(root) if has_proc() else PsutilTree(root, memory)
