"""The spare runner: started ahead of a run so scikit-learn is imported before anyone waits,
handed its spec when the run is asked for, and never left behind."""

import asyncio

import psutil

from cpulab.engine.events import Result, Started
from cpulab.engine.supervisor import RUNNER_COMMAND, Supervisor
from support.runs import spec_for


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


def imported_sklearn(pid: int) -> bool:
    maps = psutil.Process(pid).memory_maps()
    return any("sklearn" in m.path for m in maps)


async def test_a_run_takes_the_spare_that_has_already_imported_scikit_learn():
    supervisor = Supervisor()
    await supervisor.prepare()
    spare = supervisor.spare_pid
    assert spare is not None
    await wait_until(lambda: imported_sklearn(spare), timeout=30)

    handle = await supervisor.start(spec_for("rf-train"))
    events = [event async for event in handle.events()]
    assert handle.pid == spare and supervisor.spare_pid is None
    assert isinstance(events[0], Started) and events[0].pid == spare
    result = events[-1]
    assert isinstance(result, Result)
    assert result.setup["imports"] < 0.2  # done while nobody waited
    await wait_until(lambda: not alive(spare))


async def test_a_discarded_spare_and_a_second_prepare_leave_one_and_then_no_process():
    supervisor = Supervisor()
    await supervisor.prepare()
    first = supervisor.spare_pid
    await supervisor.prepare()  # one is waiting already: nothing new
    assert supervisor.spare_pid == first
    supervisor.discard_spare()
    assert supervisor.spare_pid is None
    await wait_until(lambda: not alive(first))


async def test_only_the_standard_runner_gets_spares():
    assert Supervisor().spares
    assert not Supervisor(command=(*RUNNER_COMMAND, "--other")).spares
    custom = Supervisor(command=("python3", "elsewhere.py"))
    await custom.prepare()
    assert custom.spare_pid is None
