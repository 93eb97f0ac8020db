"""Memory per worker: reading USS and PSS, the meter's peaks, the model M(p) = base +
per_worker x p, the limit a run may use (physical memory, cgroup memory.max, the user's),
and the check that refuses a run predicted to need more."""

from __future__ import annotations

import os
import subprocess
import sys

import psutil
import pytest

from cpulab.engine import memory as memory_module
from cpulab.engine import proctree
from cpulab.engine.cgroup import memory_max
from cpulab.engine.cores import CoreSplit
from cpulab.engine.errors import UsageError
from cpulab.engine.machine import machine_facts
from cpulab.engine.memory import (
    LIMIT_OPTION,
    MemoryLimit,
    MemoryModel,
    check_memory,
    machine_limit,
    parse_size,
    size_text,
    worker_count,
)
from cpulab.engine.presentation import memory_line, memory_rows, model_lines
from cpulab.engine.proctree import Memory, ProcStat, parse_rollup, read_memory
from cpulab.engine.spec import RunOptions, RunSpec
from cpulab.engine.store import ResultStore
from cpulab.engine.sweep import SweepPlan
from cpulab.engine.tasks import CATALOGUE
from cpulab.engine.treemeter import TreeMeter
from support.store import result

MiB, GiB = 1 << 20, 1 << 30
ROLLUP = b"""559d7ef45000-7ffd18fc0000 ---p 00000000 00:00 0                          [rollup]
Rss:                1784 kB
Pss:                 316 kB
Pss_Dirty:           112 kB
Shared_Clean:       1632 kB
Private_Clean:        40 kB
Private_Dirty:       112 kB
Swap:                  0 kB
"""


# Reading one process


def test_a_rollup_gives_the_private_pages_as_uss_and_the_pss():
    assert parse_rollup(ROLLUP) == Memory(uss=(40 + 112) << 10, pss=316 << 10)


@pytest.mark.parametrize(
    "data", [b"", b"Pss: 3 kB\n", b"Pss: x kB\nPrivate_Clean: 1\nPrivate_Dirty: 1"]
)
def test_what_is_not_a_rollup_reads_as_none(data):
    assert parse_rollup(data) is None


def test_a_process_reads_as_psutil_reads_it():
    held = b"x" * (64 * MiB)  # every page written
    found = read_memory(os.getpid())
    info = psutil.Process().memory_full_info()
    assert found is not None
    assert found.uss == pytest.approx(info.uss, abs=8 * MiB) and found.uss > 64 * MiB
    assert found.pss >= found.uss - MiB
    del held


def test_without_smaps_rollup_psutil_reads_it(monkeypatch, tmp_path):
    monkeypatch.setattr(proctree, "PROC", str(tmp_path))  # an empty /proc: no rollup file
    found = read_memory(os.getpid())
    assert found is not None and found.uss > 0
    assert read_memory(2**22 + 1) is None  # above any pid_max


# The meter


class FixedTree:
    """A tree reader of fixed processes: the runner 10, workers 11 and 12, tracker 13."""

    def __init__(self, pids):
        self.pids = pids

    def read(self):
        return {(pid, 0.0): ProcStat(pid, 1, 0.0, 0.0, 0.0, 0) for pid in self.pids}

    def close(self):
        pass


def test_the_meter_keeps_each_process_peak_reading_memory_every_fourth_sample(monkeypatch):
    uss = {10: 50 * MiB, 11: 300 * MiB, 12: 310 * MiB, 13: 9 * MiB}
    reads = []

    def fake_memory(pid):
        reads.append(pid)
        return Memory(uss[pid], uss[pid] + MiB)

    monkeypatch.setattr("cpulab.engine.treemeter.is_helper", lambda pid: pid == 13)
    meter = TreeMeter(10, reader=lambda root: FixedTree([root, 11, 12, 13]), memory=fake_memory)
    for _ in range(3):
        meter.sample()
    assert reads == [] and meter.memory_peaks() == {}
    meter.sample()
    assert len(reads) == 4
    uss[11] = 100 * MiB  # freed: the peak stays
    meter.sample(memory=True)
    assert meter.memory_peaks() == {
        "runner_uss": 50 * MiB,
        "worker_uss": [310 * MiB, 300 * MiB],
        "helper_uss": 9 * MiB,
        "total_pss": (50 + 300 + 310 + 9 + 4) * MiB,
    }
    meter.reset_peaks()
    assert meter.memory_peaks() == {}


class GrowingTree:
    """The runner 10 and workers 11 and 12 from another point, idle; `busy` workers use
    CPU, and `new` ones start."""

    def __init__(self):
        self.cpu = {10: 1.0, 11: 2.0, 12: 2.0}

    def read(self):
        return {
            (pid, 0.0): ProcStat(pid, 1, 0.0, cpu, 0.0, 100 * MiB) for pid, cpu in self.cpu.items()
        }

    def close(self):
        pass


def test_the_meter_counts_only_the_processes_taking_part_since_its_reset(monkeypatch):
    tree = GrowingTree()
    monkeypatch.setattr("cpulab.engine.treemeter.is_helper", lambda pid: False)
    meter = TreeMeter(10, reader=lambda root: tree, memory=lambda pid: Memory(pid * MiB, pid * MiB))
    meter.sample(memory=True)
    assert meter.peak_rss == 300 * MiB  # before any reset: the whole tree
    meter.reset_peaks()
    meter.sample(memory=True)  # the runner alone: its workers sit idle
    assert meter.peak_rss == 100 * MiB
    assert meter.memory_peaks() == {
        "runner_uss": 10 * MiB, "worker_uss": [], "helper_uss": 0, "total_pss": 10 * MiB
    }  # fmt: skip
    tree.cpu[12] += 0.01  # one of them works, and one more starts
    tree.cpu[14] = 0.0
    meter.sample(memory=True)
    assert meter.peak_rss == 300 * MiB
    assert meter.memory_peaks()["worker_uss"] == [14 * MiB, 12 * MiB]
    assert meter.cpu_since({}) == pytest.approx(1.0 + 2.0 + 2.01)  # CPU counts them all


def test_the_meter_sees_a_child_hold_its_memory():
    code = 'import time; b = b"x" * (120 << 20); print(1, flush=True); time.sleep(30)'
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        child.stdout.readline()
        meter = TreeMeter(os.getpid(), memory_every=1)
        meter.sample()
        peaks = meter.memory_peaks()
        assert peaks["worker_uss"][0] == pytest.approx(120 * MiB, rel=0.15)
        assert peaks["total_pss"] > peaks["runner_uss"] + 120 * MiB
    finally:
        child.kill()
        child.wait()


# The model


def measured(eval_, total, workers=(), backend="loky", task="cv-eval", **changes):
    memory = {"runner_uss": 40 * MiB, "worker_uss": list(workers), "total_pss": total}
    return result(1, eval_, task=task, memory=memory, options={"backend": backend}, **changes)


def test_the_model_recovers_base_and_per_worker_from_several_counts():
    base, per = 1.2 * GiB, 310 * MiB
    results = [measured(p, int(base + per * (p if p > 1 else 0))) for p in (1, 2, 4, 8)]
    model = MemoryModel.fit(results)
    assert model is not None and model.points == 4
    assert model.base == pytest.approx(base, rel=1e-6)
    assert model.per_worker == pytest.approx(per, rel=1e-6)
    assert model.predict(16) == pytest.approx(base + 16 * per, rel=1e-6)
    assert model.max_workers(int(base + 10.5 * per)) == 10


def test_one_worker_count_takes_the_mean_worker_as_per_worker():
    model = MemoryModel.fit([measured(4, 1000 * MiB, workers=[200 * MiB, 210 * MiB] * 2)])
    assert model is not None
    assert model.per_worker == pytest.approx(205 * MiB)
    assert model.predict(4) == pytest.approx(1000 * MiB)  # what was measured


def test_threads_and_results_without_memory_add_no_worker():
    assert worker_count(4, "threading") == worker_count(1, "loky") == 0
    assert worker_count(4, "multiprocessing") == 4
    model = MemoryModel.fit([measured(4, 500 * MiB, backend="threading"), result()])
    assert model is not None and model.points == 1
    assert (model.base, model.per_worker) == (500 * MiB, 0.0)
    assert model.max_workers(GiB) is None
    assert MemoryModel.fit([result()]) is None


# The limit


def fake_cgroups(tmp_path, limits):
    """A cgroup v2 hierarchy under tmp_path, its folders' memory.max as given, root first."""
    folder = root = tmp_path / "cgroup"
    for depth, limit in enumerate(limits):
        if depth:
            folder = folder / f"level{depth}"
        folder.mkdir(parents=True)
        if limit is not None:
            (folder / "memory.max").write_text(f"{limit}\n")
    return root, folder


def test_the_lowest_memory_max_up_the_hierarchy_holds(tmp_path):
    root, leaf = fake_cgroups(tmp_path, [None, "max", 4 * GiB, "max", 6 * GiB])
    assert memory_max(leaf, root) == (4 * GiB, root / "level1" / "level2")


@pytest.mark.parametrize(
    "limits", [[None, "max", "max"], [None, None], [None, "\uff11\uff12", "lots"]]
)
def test_max_or_no_limit_reads_as_none(tmp_path, limits):
    root, leaf = fake_cgroups(tmp_path, limits)
    assert memory_max(leaf, root) is None


def test_a_run_may_use_the_lower_of_memory_and_the_cgroup(monkeypatch, tmp_path):
    physical = psutil.virtual_memory().total
    monkeypatch.setattr(memory_module, "memory_max", lambda: (2 * GiB, tmp_path / "box"))
    assert memory_module.memory_limit() == (
        min(physical, 2 * GiB),
        f"the cgroup limit of {tmp_path / 'box'}" if physical > 2 * GiB else "physical memory",
    )
    monkeypatch.setattr(memory_module, "memory_max", lambda: None)
    assert memory_module.memory_limit() == (physical, "physical memory")
    assert machine_limit(512 * MiB) == MemoryLimit(512 * MiB, LIMIT_OPTION)
    assert machine_limit(physical * 2) == MemoryLimit(physical, "physical memory")


@pytest.mark.parametrize(
    ("text", "size"),
    [("512M", 512 * MiB), ("2G", 2 * GiB), ("1.5GiB", 3 * GiB // 2), ("100", 100), ("64kb", 65536)],
)
def test_sizes_read_in_powers_of_1024(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "lots", "2X", "-1G", "0", "1e9", "G"])
def test_what_is_no_size_is_refused_in_words(text):
    with pytest.raises(UsageError, match="memory"):
        parse_size(text)


def test_sizes_read_as_people_write_them():
    assert [size_text(s) for s in (500, 310 * MiB, 3.7 * GiB, 38.2 * GiB, 123 * GiB)] == [
        "500 B", "310 MiB", "3.7 GiB", "38.2 GiB", "123 GiB",
    ]  # fmt: skip


# The check


@pytest.fixture
def stored(tmp_path):
    """A store with cv-eval at 1 x 2 and 1 x 4 on this machine: 1 GiB + 200 MiB a worker."""
    here = machine_facts()
    with ResultStore.open(tmp_path / "memory.sqlite") as store:
        for p in (2, 4):
            store.add_point(measured(p, GiB + p * 200 * MiB, machine=here))
        yield store


def run_of(eval_: int) -> RunSpec:
    split = CoreSplit(1, eval_, available=64)
    return RunSpec.for_task(CATALOGUE["cv-eval"], split, options=RunOptions())


def test_a_run_predicted_beyond_the_limit_is_refused_with_the_figure(stored):
    limit = MemoryLimit(2 * GiB, LIMIT_OPTION)
    assert check_memory(run_of(4), stored, limit, allow=False).need < 2 * GiB
    with pytest.raises(UsageError) as refused:
        check_memory(run_of(8), stored, limit, allow=False)
    assert str(refused.value) == (
        "cv-eval at 1 x 8 would need about 2.56 GiB (1 GiB + 200 MiB per worker x 8); "
        "--memory-limit lets a run use 2 GiB (--allow-memory lifts this limit)"
    )
    need = check_memory(run_of(8), stored, limit, allow=True)
    assert need is not None and need.over


def test_a_sweep_is_judged_by_its_largest_point(stored):
    plan = SweepPlan(CATALOGUE["cv-eval"], "small", "eval", (1, 2, 16), 1, 0, available=64)
    with pytest.raises(UsageError, match=r"^cv-eval at 1 x 16 would need about 4.12 GiB"):
        check_memory(plan, stored, MemoryLimit(4 * GiB, "physical memory"), allow=False)


def test_other_scales_variants_and_machines_predict_nothing(stored):
    limit = MemoryLimit(1, LIMIT_OPTION)
    full = RunSpec.for_task(CATALOGUE["cv-eval"], CoreSplit(1, 8, 64), "full")
    threads = RunSpec.for_task(
        CATALOGUE["cv-eval"], CoreSplit(1, 8, 64), options=RunOptions(backend="threading")
    )
    assert check_memory(full, stored, limit, allow=False) is None
    assert check_memory(threads, stored, limit, allow=False) is None
    stored.add_point(measured(2, 99 * GiB))  # another machine's (support.store.ALPHA)
    assert check_memory(run_of(2), stored, MemoryLimit(2 * GiB, LIMIT_OPTION), False)


# The words


def test_the_sweep_report_line_and_the_details_rows():
    model = MemoryModel(base=1.2 * GiB, per_worker=310 * MiB, points=3)
    limit = MemoryLimit(int(23.4 * GiB), "physical memory")
    assert memory_line(model, limit, 8) == (
        "memory: 1.2 GiB + 310 MiB per worker; 8 workers ≈ 3.62 GiB of 23.4 GiB"
    )
    assert memory_line(model, MemoryLimit(2 * GiB, LIMIT_OPTION), 8).endswith(
        "; 2 workers at most fit"
    )
    assert memory_line(None, limit, 8) is None
    rows = dict(memory_rows(measured(2, 700 * MiB, workers=[300 * MiB, 310 * MiB])))
    assert rows["worker memory"] == "305 MiB peak USS per worker, mean of 2 (largest 310 MiB)"
    assert rows["runner memory"] == "40 MiB peak USS"


def test_the_knee_recommends_no_more_cores_than_fit(monkeypatch):
    from cpulab.engine.models import fit_scaling

    model = fit_scaling([(p, (10.0 / p,) * 3) for p in (1, 2, 4, 8)])
    assert model is not None
    free = [line for line in model_lines(model, 8, baseline=None) if line.startswith("knee")]
    capped = [
        line
        for line in model_lines(model, 8, memory_cap=3, baseline=None)
        if line.startswith("knee")
    ]
    assert "8 cores" in free[0]
    assert capped == [
        "knee: the best predicted time up to 3 cores is at 3 cores (the memory a run may use "
        "fits 3 workers "
        "at most)"
    ]


def test_a_process_holding_200_mb_reads_as_200_mb_of_its_own():
    # What a read costs is a benchmark's to say (0.3 ms for such a process, on this machine).
    held = bytearray(200 * MiB)
    held[::4096] = b"x" * len(held[::4096])  # touched: resident, and this process's alone
    memory = read_memory(os.getpid())
    assert memory is not None and memory.uss >= 200 * MiB and memory.pss >= 200 * MiB
    del held
