"""CPU time and memory of a whole process tree, and killing one.

Plain psutil, no scikit-learn: the runner measures its own tree with it, and the
supervisor kills a child's tree with `kill_tree`.
"""

from __future__ import annotations

import contextlib
import threading

import psutil

SAMPLE_INTERVAL = 0.05  # seconds; short enough to catch short-lived worker peaks


def _cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system


class TreeMeter:
    """Samples a process and its descendants in a background thread.

    Keeps the highest summed resident memory seen, and each process's latest CPU
    time, so CPU spent by workers that exit between snapshots is still counted.
    """

    def __init__(self, root_pid: int, interval: float = SAMPLE_INTERVAL):
        self.root = psutil.Process(root_pid)
        self.interval = interval
        self.peak_rss = 0
        self._procs: dict[int, psutil.Process] = {root_pid: self.root}
        self._cpu: dict[int, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tree-meter", daemon=True)

    def start(self) -> None:
        self.sample()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        try:
            children = self.root.children(recursive=True)
        except psutil.Error:
            children = []
        rss = 0
        with self._lock:
            for child in children:
                # Reuse Process objects: psutil identifies a process by pid and start time.
                self._procs.setdefault(child.pid, child)
            for pid, proc in list(self._procs.items()):
                try:
                    with proc.oneshot():
                        rss += proc.memory_info().rss
                        self._cpu[pid] = _cpu_seconds(proc)
                except psutil.Error:
                    del self._procs[pid]  # gone: its last CPU reading stays in _cpu
            self.peak_rss = max(self.peak_rss, rss)

    def cpu_snapshot(self) -> dict[int, float]:
        self.sample()
        with self._lock:
            return dict(self._cpu)

    def cpu_since(self, before: dict[int, float]) -> float:
        """CPU seconds the tree used since `before` was taken."""
        after = self.cpu_snapshot()
        return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def kill_tree(pid: int, *, include_root: bool = True, grace: float = 0.5) -> list[int]:
    """SIGTERM a process and every descendant, then SIGKILL whatever is left after `grace`.

    The tree is snapshotted before any signal, so children re-parented to init while
    their parent dies are still found. Returns the pids that had to be SIGKILLed.
    """
    try:
        root = psutil.Process(pid)
        procs = root.children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    if include_root:
        procs.append(root)
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=grace)
    return [proc.pid for proc in alive]
