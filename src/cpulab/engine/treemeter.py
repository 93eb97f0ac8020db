"""CPU time and memory of a whole process tree, and killing one.

No scikit-learn: the runner measures its own tree with `TreeMeter` (through
`proctree`, /proc itself on Linux), and the supervisor ends a child's tree with `tree`,
`group` and `terminate` (psutil).
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import psutil

from cpulab.engine.proctree import (
    Key,
    Memory,
    ProcStat,
    TreeReader,
    is_helper,
    read_memory,
    tree_reader,
)
from cpulab.engine.taskstream import DIRECTORY_PREFIX

# Seconds between readings of the tree. Each holds the runner's GIL for a moment (it
# parses /proc in Python), which delays the measured call: at 20 Hz through psutil that
# cost 1-5 % of the fit time. Peak memory of these workloads is sustained, so 4 Hz still
# finds it.
SAMPLE_INTERVAL = 0.25
# Every how many samples the unique and proportional memory of each process is read too:
# smaps_rollup makes the kernel walk a process's mappings (up to 0.9 ms of CPU at 200 MB,
# see proctree), so once a second, and once more after each measured call. The GIL is
# held for the parsing alone: 0.06 ms a process.
MEMORY_EVERY = 4


class TreeMeter:
    """Samples a process and its descendants in a background thread.

    Keeps the highest summed resident memory seen, and each process's latest CPU
    time, so CPU spent by workers that exit between snapshots is still counted. Every
    `memory_every` samples it also reads each process's USS and PSS, and keeps each
    process's highest USS and the highest summed PSS: `memory_peaks` says them since the
    last `reset_peaks`. Memory is of the processes taking part since then: the root, and
    any other that started or used CPU since. A sweep measures its points' runs in turn,
    and the idle workers another point started are no part of this one's memory (a
    1 x 1 point of cv-eval read 460 MiB with them, 140 MiB without).
    """

    def __init__(
        self,
        root_pid: int,
        interval: float = SAMPLE_INTERVAL,
        reader: Callable[[int], TreeReader] = tree_reader,
        memory: Callable[[int], Memory | None] = read_memory,
        memory_every: int = MEMORY_EVERY,
        on_sample: Callable[[float], None] | None = None,
    ):
        self.interval = interval
        # Told the tree's CPU seconds so far at each reading: the runner's core recorder
        # reads the cores then, so both share the moment the GIL is held (coretrace.py).
        self.on_sample = on_sample
        self.root_pid = root_pid
        self.peak_rss = 0
        self.peak_uss: dict[Key, int] = {}
        self.peak_pss = 0  # bytes: the highest sum over the tree
        self._read_memory = memory
        self.memory_every = memory_every
        self._samples = 0
        self._helpers: set[Key] = set()  # resource trackers: in the tree, but no workers
        self._tree = reader(root_pid)
        self._cpu: dict[Key, float] = {}
        self._cpu_at_reset: dict[Key, float] = {}  # of the processes there at reset_peaks
        self._lock = threading.Lock()  # the thread and the measuring code both sample
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tree-meter", daemon=True)

    def start(self) -> None:
        self.sample()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()
        self._tree.close()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self, memory: bool = False) -> None:
        """Read the tree; its USS and PSS too where `memory`, and every `memory_every`th."""
        with self._lock:
            stats = self._tree.read()
            for key, stat in stats.items():
                self._cpu[key] = stat.cpu  # one that has ended keeps its last reading
            if at_reset := self._cpu_at_reset:  # those taking part: new, or busy since
                root = self.root_pid
                stats = {
                    key: stat
                    for key, stat in stats.items()
                    if key[0] == root or stat.cpu > at_reset.get(key, -1.0)
                }
            self.peak_rss = max(self.peak_rss, sum(stat.rss for stat in stats.values()))
            if self.on_sample is not None:
                self.on_sample(sum(self._cpu.values()))
            self._samples += 1
            if memory or self._samples % self.memory_every == 0:
                self._sample_memory(stats)

    def _sample_memory(self, stats: dict[Key, ProcStat]) -> None:
        total = 0
        for key in stats:
            found = self._read_memory(key[0])
            if found is None:  # ended since the stat read
                continue
            total += found.pss
            self.peak_uss[key] = max(self.peak_uss.get(key, 0), found.uss)
            if key not in self._helpers and key[0] != self.root_pid and is_helper(key[0]):
                self._helpers.add(key)
        self.peak_pss = max(self.peak_pss, total)

    def reset_peaks(self) -> None:
        """Start the peaks afresh: before each measured call. The processes there now
        count from when they next use CPU."""
        with self._lock:
            self.peak_rss, self.peak_pss, self.peak_uss = 0, 0, {}
            self._cpu_at_reset = {key: stat.cpu for key, stat in self._tree.read().items()}
            self._cpu.update(self._cpu_at_reset)

    def memory_peaks(self) -> dict[str, Any]:
        """The peaks since `reset_peaks`, as a result's `memory` holds them (bytes): the
        runner's USS, each worker's (largest first), the trackers' together, and the
        tree's summed PSS. Empty where memory was never read."""
        with self._lock:
            if not self.peak_uss:
                return {}
            runner = helpers = 0
            per_worker = []
            for key, uss in self.peak_uss.items():
                if key[0] == self.root_pid:
                    runner = max(runner, uss)
                elif key in self._helpers:
                    helpers += uss
                else:
                    per_worker.append(uss)
            return {
                "runner_uss": runner,
                "worker_uss": sorted(per_worker, reverse=True),
                "helper_uss": helpers,
                "total_pss": self.peak_pss,
            }

    def cpu_snapshot(self) -> dict[Key, float]:
        self.sample()
        with self._lock:
            return dict(self._cpu)

    def cpu_since(self, before: dict[Key, float]) -> float:
        """CPU seconds the tree used since `before` was taken."""
        after = self.cpu_snapshot()
        return sum(seconds - before.get(key, 0.0) for key, seconds in after.items())


def tree(pid: int, *, include_root: bool = True) -> list[psutil.Process]:
    """A process and all its descendants, snapshotted now."""
    try:
        root = psutil.Process(pid)
        procs = root.children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return [*procs, root] if include_root else procs


def group(pgid: int) -> list[psutil.Process]:
    """Every process in a process group: finds workers orphaned by a dead parent."""
    members = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pgid and _running(proc):
                members.append(proc)
        except (ProcessLookupError, psutil.Error):
            pass
    return members


def processes(pids: list[int]) -> list[psutil.Process]:
    """The live processes among `pids`."""
    found = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            if _running(proc):
                found.append(proc)
    return found


def is_resource_tracker(proc: psutil.Process) -> bool:
    # joblib's and multiprocessing's trackers remove shared memory and semaphores their
    # processes leave behind, once every process that could still use them is gone.
    try:
        return any("resource_tracker" in part for part in proc.cmdline())
    except psutil.Error:
        return False


def _running(proc: psutil.Process) -> bool:
    # A zombie has finished; whether its parent (often init) has reaped it yet is not ours
    # to wait for.
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def wait_gone(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until every process has ended or `timeout` passes; returns those still running."""
    deadline = time.monotonic() + timeout
    running = [p for p in procs if _running(p)]
    while running and time.monotonic() < deadline:
        time.sleep(0.02)
        running = [p for p in running if _running(p)]
    return running


def _signal_all(procs: list[psutil.Process], kill: bool) -> None:
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.kill() if kill else proc.terminate()


def terminate(
    procs: list[psutil.Process], *, grace: float = 0.5, cleanup_grace: float | None = 1.0
) -> list[int]:
    """End processes: SIGTERM, then SIGKILL whatever is left after `grace` seconds.

    Resource trackers are spared until the rest are gone, so they can clean up shared
    memory; after `cleanup_grace` more seconds they are killed too (None: left alone,
    for a caller that is itself one of the processes they wait for). Returns the pids
    that needed SIGKILL.
    """
    trackers = [p for p in procs if is_resource_tracker(p)]
    others = [p for p in procs if p not in trackers]
    _signal_all(others, kill=False)
    stubborn = wait_gone(others, grace)
    _signal_all(stubborn, kill=True)
    wait_gone(stubborn, grace)
    if cleanup_grace is None:
        return [p.pid for p in stubborn]
    lingering = wait_gone(trackers, cleanup_grace)
    _signal_all(lingering, kill=True)
    wait_gone(lingering, grace)
    return [p.pid for p in stubborn + lingering]


def remove_joblib_leftovers(pid: int, env: Mapping[str, str]) -> None:
    """Delete the memmapping folders and the named semaphores that joblib and loky created
    in process `pid`, once its tree is gone.

    Both are created before they are registered with the resource tracker that would
    delete them, and loky holds SIGTERM back while it starts that tracker: a cancel then
    takes effect just between the two and leaves them to nobody, in /dev/shm until the
    next reboot. `env` is the runner's environment, which may point joblib elsewhere.
    """
    temp = env.get("TMPDIR") or tempfile.gettempdir()  # the runner's, as mkdtemp finds it
    roots = filter(None, {env.get("JOBLIB_TEMP_FOLDER"), "/dev/shm", temp})
    _remove(roots, f"joblib_memmapping_folder_{pid}_*")
    # loky names its semaphores "/loky-PID-..."; Linux keeps a named semaphore as
    # /dev/shm/sem.NAME, and removing that file is what sem_unlink does.
    for semaphore in glob.glob(f"/dev/shm/sem.loky-{pid}-*"):
        with contextlib.suppress(OSError):  # unlinked meanwhile by its tracker
            os.unlink(semaphore)
    # The runner's own: where its workers write the tasks they ran (taskstream.py).
    _remove([temp], f"{DIRECTORY_PREFIX}{pid}_*")


def _remove(roots: Iterable[str], pattern: str) -> None:
    for root in roots:
        for folder in glob.glob(os.path.join(glob.escape(root), pattern)):
            shutil.rmtree(folder, ignore_errors=True)


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def tie_to_parent(signum: int = signal.SIGKILL) -> bool:
    """Have the kernel send `signum` to this process when the thread that started it ends
    (Linux). Unlike a watching thread this needs no GIL, so it holds while a task's code
    holds the GIL. False where the platform has no such thing; `signum` 0 unties."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def kill_own_children() -> None:
    """For the runner on its way out: end its workers; the trackers finish after it."""
    terminate(tree(os.getpid(), include_root=False), grace=0.5, cleanup_grace=None)
