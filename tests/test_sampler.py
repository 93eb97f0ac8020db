"""The core sampler: real readings from psutil, and the fake the UI tests use."""

import subprocess
import sys
import time

import psutil
import pytest

from cpulab.engine.cores import core_budget
from cpulab.engine.errors import UsageError
from cpulab.monitor.sampler import (
    MIN_INTERVAL,
    CoreSample,
    PsutilSampler,
    check_sample_hz,
)
from support.fake_sampler import FakeSampler

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
        sampler = PsutilSampler()
        sampler.count_as_own(spare.pid)
        sampler.sample()
        time.sleep(1.2)
        busy = sampler.sample()
        assert busy.other_cores < 0.3  # its work was cpulab's own, not other load
        sampler.watch(spare.pid)  # handed a run: the experiment from now on
        handed = sampler.sample()
        time.sleep(0.3)
        idle = sampler.sample()
        for sample in (handed, idle):
            assert sample.tree_cores < 0.3  # its past second is not counted as the run's
            assert sample.other_cores < 0.3
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
