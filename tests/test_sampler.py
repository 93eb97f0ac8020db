"""The core sampler: real readings from psutil and /proc, and the fake the UI tests use."""

import os
import subprocess
import sys
import time
from functools import partial

import psutil
import pytest

from cpulab.engine.cgroup import RunCgroup, cgroups_available, cpu_seconds, run_cgroup_of
from cpulab.engine.cores import core_budget
from cpulab.engine.errors import UsageError
from cpulab.engine.proctree import PsutilTree
from cpulab.monitor.sampler import (
    MIN_INTERVAL,
    CoreSample,
    PsutilSampler,
    check_sample_hz,
    cpu_reader,
)
from support.fake_sampler import FakeSampler
from support.trees import Tree, fan

BUSY_LOOP = "import time\nend = time.time() + 30\nwhile time.time() < end: pass"


def test_a_sample_summarises_its_cores():
    sample = CoreSample(cpus=(0, 1, 2, 3), percents=(10.0, 20.0, 30.0, 100.0), tree_cores=1.5)
    assert (sample.avg, sample.min, sample.max) == (40.0, 10.0, 100.0)
    assert sample.quiet


def test_other_work_or_steal_makes_the_machine_noisy():
    assert not CoreSample(cpus=(0, 1), percents=(50.0, 50.0), other_cores=0.5).quiet
    assert not CoreSample(cpus=(0, 1), percents=(50.0, 50.0), steal=10.0).quiet


def test_the_fake_sampler_replays_its_frames_in_turn():
    fake = FakeSampler([[10, 20], [30, 40]], tree_cores=0.5)
    readings = [fake.sample().percents for _ in range(3)]
    assert readings == [(10, 20), (30, 40), (10, 20)]
    assert fake.budget.available == 2 and fake.budget.affinity == (0, 1)
    fake.watch(123)
    assert fake.watched == 123


def test_the_fake_pattern_is_repeatable_and_spans_every_level():
    percents = FakeSampler.pattern(256).sample().percents
    assert percents == FakeSampler.pattern(256).sample().percents
    assert min(percents) < 5 and max(percents) > 95


def test_psutil_sampler_reads_only_the_allowed_cores():
    sampler = PsutilSampler()
    sample = sampler.sample()
    assert sample.cpus == core_budget().affinity
    assert len(sample.percents) == len(sample.cpus)
    assert all(0 <= p <= 100 for p in sample.percents)
    assert sample.tree_cores == 0.0


def test_samples_are_kept_at_least_the_minimum_interval_apart():
    sampler = PsutilSampler()
    start = time.monotonic()
    sampler.sample()
    sampler.sample()
    assert time.monotonic() - start >= 2 * MIN_INTERVAL * 0.9


def test_the_watched_tree_is_attributed_including_children_started_later():
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {BUSY_LOOP!r}])",
        ]
    )
    try:
        sampler = PsutilSampler()
        sampler.watch(parent.pid)
        sampler.sample()
        time.sleep(0.6)  # the busy grandchild starts within this interval
        sample = sampler.sample()
        assert sample.tree_cores > 0.3
        assert sample.other_cores <= sum(sample.percents) / 100
    finally:
        for proc in [*psutil.Process(parent.pid).children(recursive=True), parent]:
            proc.kill()
        parent.wait()


def test_a_spare_counts_as_ours_until_it_runs_and_then_from_that_moment():
    # Busy for a second (its "imports"), then idle, as a spare waiting for its spec is.
    spare = subprocess.Popen(
        [sys.executable, "-c", "import time\nend = time.time() + 1\nwhile time.time() < end: "
         "pass\ntime.sleep(30)"]
    )  # fmt: skip
    try:
        # Beside a sampler told of nothing, over the same intervals: what else the machine
        # does meanwhile (a test beside this one, say) is other load to both alike.
        sampler, beside = PsutilSampler(), PsutilSampler()
        sampler.count_as_own(spare.pid)
        sampler.sample(), beside.sample()
        started, used_before = time.monotonic(), process_cpu_seconds(spare.pid)
        time.sleep(1.2)
        busy, busy_beside = sampler.sample(), beside.sample()
        spare_cores = (process_cpu_seconds(spare.pid) - used_before) / (time.monotonic() - started)
        assert spare_cores > 0.2  # it did work, as much as the machine let it
        # Its work was cpulab's own: the other saw it as other load, this sampler did not.
        seen_as_ours = busy_beside.other_cores - busy.other_cores
        assert abs(seen_as_ours - spare_cores) < 0.2, (spare_cores, busy, busy_beside)
        sampler.watch(spare.pid)  # handed a run: the experiment from now on
        handed, handed_beside = sampler.sample(), beside.sample()
        time.sleep(0.3)
        idle, idle_beside = sampler.sample(), beside.sample()
        for sample, other in ((handed, handed_beside), (idle, idle_beside)):
            assert sample.tree_cores < 0.3  # its past second is not counted as the run's
            assert abs(sample.other_cores - other.other_cores) < 0.3, (sample, other)
    finally:
        spare.kill()
        spare.wait()


def test_a_vanished_process_is_tolerated():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    sampler = PsutilSampler()
    sampler.watch(child.pid)
    assert sampler.sample().tree_cores == 0.0
    sampler.watch(None)
    assert sampler.sample().tree_cores == 0.0


@pytest.mark.parametrize("hz", [0, -1, 11, float("nan")])
def test_sampling_rates_outside_the_range_are_refused(hz):
    with pytest.raises(UsageError, match="sampling rate"):
        check_sample_hz(hz)


def test_the_default_rate_is_accepted():
    assert check_sample_hz(4.0) == 4.0


def tree_seconds(sampler: PsutilSampler) -> float:
    """The watched tree's CPU since the previous reading, in seconds, not cores."""
    return sampler._tree_seconds()


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the tree did not get there in time"
        time.sleep(0.01)


def cpu(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system


@pytest.mark.parametrize(
    "reader", [cpu_reader, partial(PsutilTree, memory=False)], ids=["fast", "psutil"]
)
def test_a_member_that_ends_mid_watch_is_counted_once(reader):
    with Tree({"kids": [{"busy": True}, *fan(3, 2)]}) as tree:
        sampler = PsutilSampler(reader=reader, cgroups=False)
        sampler.watch(tree.pid)
        root = psutil.Process(tree.pid)
        busy = max(root.children(), key=cpu)
        total = tree_seconds(sampler)  # from the tree's start
        wait_for(lambda: cpu(busy) >= 0.2)
        total += tree_seconds(sampler)
        busy.kill()
        busy.wait(10)  # reaped by its parent, whose reaped-children time grows by its life
        total += tree_seconds(sampler)
        total += tree_seconds(sampler)
        times = root.cpu_times()
        alive = sum(cpu(p) for p in root.children(recursive=True))
        expected = times.user + times.system + times.children_user + times.children_system
        assert total == pytest.approx(expected + alive, abs=0.03)  # a tick or two
        assert times.children_user + times.children_system >= 0.2


needs_cgroups = pytest.mark.skipif(not cgroups_available(), reason="no writable cgroup v2 here")


@pytest.fixture
def run_cgroup():
    group = RunCgroup.create()
    assert group is not None
    yield group
    group.kill()
    group.remove()


@needs_cgroups
def test_the_runs_cgroup_counts_what_left_the_tree(run_cgroup):
    # A daemon that detached and spun before the first sample: the tree never sees it.
    shape = {"kids": [{"detach": True, "kids": [{"spin": 0.3}]}, *fan(2)]}
    with Tree(shape, before_go=run_cgroup.add) as tree:
        assert run_cgroup_of(tree.pid) == run_cgroup.path
        assert run_cgroup_of(os.getpid()) is None  # cpulab's own group is never read
        grouped, by_tree = PsutilSampler(), PsutilSampler(cgroups=False)
        grouped.watch(tree.pid)
        by_tree.watch(tree.pid)
        in_group, in_tree = tree_seconds(grouped), tree_seconds(by_tree)
        assert in_group == pytest.approx(cpu_seconds(run_cgroup.path), abs=0.01)
        assert in_group >= in_tree + 0.25
        assert tree_seconds(grouped) < 0.05  # idle now: from the previous sample on
        grouped.sample()  # a whole sample reads the group too


@needs_cgroups
def test_a_spare_in_its_cgroup_counts_from_when_it_is_watched(run_cgroup):
    with Tree({"spin": 0.3}, before_go=run_cgroup.add) as spare:  # its "imports"
        sampler = PsutilSampler()
        sampler.count_as_own(spare.pid)
        sampler.sample()
        sampler.watch(spare.pid)
        assert tree_seconds(sampler) < 0.05
        unaware = PsutilSampler()  # not told it was a spare: it counts from its start
        unaware.watch(spare.pid)
        assert tree_seconds(unaware) >= 0.25


@needs_cgroups
def test_a_removed_cgroup_hands_over_to_the_tree_without_counting_twice(run_cgroup):
    with Tree({"kids": [{"spin": 0.2}]}, before_go=run_cgroup.add) as tree:
        sampler = PsutilSampler()
        sampler.watch(tree.pid)
        assert tree_seconds(sampler) >= 0.15
        sampler._group = sampler._group.with_name("gone")  # as if removed under it
        assert tree_seconds(sampler) == 0.0
        assert tree_seconds(sampler) < 0.05


def process_cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system
