"""Start a real run and cancel it, over and over, at every moment of its life.

Each cycle cancels at one of MOMENTS, a little later each time round, and then looks for
any process of the run anywhere on the machine. The suite, and so CI, runs one round of 8
cycles; all 50 are

    CPULAB_CANCEL_CYCLES=50 python -m pytest tests/reliability/test_cancel_cycles.py

and a summary line (cycles, cycles that left processes, worst and median cancel) follows.
"""

from __future__ import annotations

import _multiprocessing
import asyncio
import os
import statistics
import time

import pytest

from cpulab.engine.events import Cancelled, Phase, Started
from cpulab.engine.supervisor import Supervisor
from support.reliability import marked_env, seconds_until_gone
from support.runs import collect, leaked_shared_memory, spec_for

CANCEL_CYCLES = int(os.environ.get("CPULAB_CANCEL_CYCLES", "8"))
CANCEL_LIMIT = 2.0  # seconds from the request until no process of the run is left
STEP = 0.05  # seconds later, each time round the moments

# (task, train, eval, event that arms the cancel, seconds after it). No event: cancel as
# soon as the child exists, before its interpreter has even started.
MOMENTS = (
    ("cv-eval", 1, 2, None, 0.0),
    ("cv-eval", 1, 2, "started", 0.0),
    ("cv-eval", 1, 2, "imports", 0.2),
    ("cv-eval", 1, 2, "workers", 0.0),  # loky is spawning its workers
    ("cv-eval", 1, 2, "workers", 0.4),  # the workers are importing scikit-learn
    ("cv-eval", 1, 2, "fit", 0.2),  # folds spread over two worker processes
    ("grid-search", 2, 2, "fit", 0.3),  # threads inside each worker
    ("rf-train", 2, 1, "fit", 0.1),  # threads of the child itself
)


def moment(cycle: int) -> tuple[str, int, int, str | None, float]:
    task, train, eval, when, delay = MOMENTS[cycle % len(MOMENTS)]
    return task, train, eval, when, delay + STEP * (cycle // len(MOMENTS))


def cycle_id(cycle: int) -> str:
    task, train, eval, when, delay = moment(cycle)
    return f"{cycle}-{task}-{train}x{eval}-{when or 'at-once'}+{delay:.2f}s"


@pytest.fixture(scope="module")
def cancel_log(request):
    """Collects each cycle's seconds until its tree was gone (None: it never was), and
    prints the summary the docs quote."""
    log: dict[str, float | None] = {}
    yield log
    ended = {cycle: seconds for cycle, seconds in log.items() if seconds is not None}
    if not ended:
        return
    worst = max(ended, key=ended.__getitem__)
    plugins = request.config.pluginmanager
    with plugins.get_plugin("capturemanager").global_and_fixture_disabled():
        plugins.get_plugin("terminalreporter").write_line(
            f"\ncancel cycles: {len(log)}, cycles that left processes: {len(log) - len(ended)}, "
            f"worst cancel {ended[worst]:.2f} s ({worst}), "
            f"median {statistics.median(ended.values()):.2f} s"
        )


@pytest.mark.parametrize("cycle", range(CANCEL_CYCLES), ids=cycle_id)
async def test_a_cancel_at_any_moment_leaves_no_process_within_two_seconds(cycle, cancel_log):
    task, train, eval, when, delay = moment(cycle)
    env, token = marked_env()
    handle = await Supervisor(env=env).start(spec_for(task, train, eval, scale="full"))
    requested: float | None = None
    armed: asyncio.Task | None = None

    async def cancel_later() -> None:
        nonlocal requested
        await asyncio.sleep(delay)
        requested = time.monotonic()
        await handle.cancel()

    async def arm(event) -> None:
        nonlocal armed
        name = "started" if isinstance(event, Started) else getattr(event, "name", None)
        if armed is None and isinstance(event, Started | Phase) and name == when:
            armed = asyncio.create_task(cancel_later())  # events keep flowing meanwhile

    if when is None:
        armed = asyncio.create_task(cancel_later())
    events = await asyncio.wait_for(collect(handle, arm), 60)
    assert armed is not None and requested is not None, f"never reached {when}: {events[-1]}"
    await armed
    gone_after = seconds_until_gone(token, requested)
    cancel_log[cycle_id(cycle)] = gone_after

    assert isinstance(events[-1], Cancelled), events[-1]
    assert gone_after is not None, "processes of the run outlived the cancel"
    assert gone_after < CANCEL_LIMIT
    assert events[-1].seconds < CANCEL_LIMIT
    assert not leaked_shared_memory(handle.pid)


async def test_a_cancel_removes_the_joblib_folders_no_tracker_knows_of(tmp_path, python):
    # What a runner cancelled between creating a memmapping folder and registering it leaves:
    # the folder, named after the runner's pid, and no resource tracker that will delete it.
    script = (
        "import os, time\n"
        "os.mkdir(os.path.join(os.environ['JOBLIB_TEMP_FOLDER'],"
        " f'joblib_memmapping_folder_{os.getpid()}_1_2'))\n"
        'print(\'{"event":"started","pid":1,"pgid":1,"t":0}\', flush=True)\n'
        "time.sleep(60)\n"
    )
    someone_elses = tmp_path / "joblib_memmapping_folder_1_1_2"
    someone_elses.mkdir()
    env = {**os.environ, "JOBLIB_TEMP_FOLDER": str(tmp_path)}
    handle = await Supervisor(command=[python, "-c", script], env=env).start(spec_for("rf-train"))

    async def cancel_when_started(event) -> None:
        if isinstance(event, Started):
            assert (tmp_path / f"joblib_memmapping_folder_{handle.pid}_1_2").is_dir()
            await handle.cancel()

    events = await asyncio.wait_for(collect(handle, cancel_when_started), 30)
    assert isinstance(events[-1], Cancelled)
    assert sorted(tmp_path.iterdir()) == [someone_elses]


@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="named semaphores live in /dev/shm")
async def test_a_cancel_removes_the_loky_semaphores_no_tracker_knows_of(python):
    # The same race for a semaphore of loky's: made under its name, "/loky-PID-...", and
    # not yet registered with a resource tracker when the cancel lands.
    script = (
        "import os, time, _multiprocessing\n"
        "lock = _multiprocessing.SemLock(1, 1, 1, f'/loky-{os.getpid()}-cpulabtest', False)\n"
        'print(\'{"event":"started","pid":1,"pgid":1,"t":0}\', flush=True)\n'
        "time.sleep(60)\n"
    )
    someone_elses = _multiprocessing.SemLock(1, 1, 1, "/loky-1-cpulabtest", False)
    try:
        handle = await Supervisor(command=[python, "-c", script]).start(spec_for("rf-train"))
        own = f"/dev/shm/sem.loky-{handle.pid}-cpulabtest"

        async def cancel_when_started(event) -> None:
            if isinstance(event, Started):
                assert os.path.exists(own)
                await handle.cancel()

        events = await asyncio.wait_for(collect(handle, cancel_when_started), 30)
        assert isinstance(events[-1], Cancelled)
        assert not os.path.exists(own)
        assert os.path.exists("/dev/shm/sem.loky-1-cpulabtest")
    finally:
        del someone_elses
        _multiprocessing.sem_unlink("/loky-1-cpulabtest")
