"""Starting real runs of the catalogue's tasks and checking what they leave behind."""

import os

import psutil

from cpulab.engine.cores import CoreSplit
from cpulab.engine.spec import RunSpec
from cpulab.engine.tasks import CATALOGUE


def spec_for(task: str, train=1, eval=1, scale="small", **kwargs) -> RunSpec:
    split = CoreSplit.resolve(train, eval, available=2)
    return RunSpec.for_task(CATALOGUE[task], split, scale, **kwargs)


async def collect(handle, on_event=None) -> list:
    events = []
    async for event in handle.events():
        events.append(event)
        if on_event is not None:
            await on_event(event)
    return events


def tree_pids(pid: int) -> set[int]:
    try:
        root = psutil.Process(pid)
        return {pid} | {child.pid for child in root.children(recursive=True)}
    except psutil.NoSuchProcess:
        return set()


def leaked_shared_memory(pid: int) -> list[str]:
    """joblib memmapping folders and loky semaphores named after a runner's pid."""
    if not os.path.isdir("/dev/shm"):
        return []
    return [n for n in os.listdir("/dev/shm") if f"_{pid}_" in n or f"-{pid}-" in n]


def alive(pids: set[int]) -> set[int]:
    living = set()
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                living.add(pid)
        except psutil.NoSuchProcess:
            pass
    return living


def wait_for_runs(db, at_least: int, timeout: float = 60) -> int:
    """Wait until the store at `db` holds `at_least` measured runs (each point's runs so
    far: a run cut short keeps them); returns how many it found."""
    import time

    from cpulab.engine.store import ResultStore

    measured = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and measured < at_least:
        if db.exists():
            with ResultStore.open(db) as store:
                measured = sum(len(p.result.fit_times) for p in store.points())
        time.sleep(0.05)
    return measured
