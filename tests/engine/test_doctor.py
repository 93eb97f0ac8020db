"""`cpulab doctor`'s items on fake sysfs, procfs and cgroup trees (tests/fixtures/doctor):
a performance governor with turbo off, powersave with turbo on, SMT on and off, a cgroup
quota of 1.5 CPUs and a memory limit (v2 and v1), and a tree with nothing at all."""

import dataclasses
import json
from pathlib import Path

import pytest

from cpulab.engine.doctor import (
    INFO,
    NOISY,
    OK,
    TITLES,
    WARN,
    Check,
    conditions,
    cpu_quota,
    gather,
    library_check,
    load_checks,
    memory_cgroup_limit,
    memory_check,
    noisy_items,
    summary,
)
from cpulab.engine.events import parse_event
from cpulab.engine.execution import THREAD_VARIABLES

TREES = Path(__file__).parent.parent / "fixtures" / "doctor"
CPUS = (0, 1, 2, 3)


def items(tree: str | Path, cpus=CPUS) -> dict[str, Check]:
    root = tree if isinstance(tree, Path) else TREES / tree
    return {c.name: c for c in gather(root, sample=0, libraries=False, cpus=cpus)}


def test_a_performance_governor_with_turbo_off_is_fine():
    found = items("performance")
    assert found["governor"] == Check("governor", "performance on CPUs 0-3", OK)
    assert found["turbo"] == Check("turbo", "off (intel_pstate)", OK)
    assert found["smt"].value == "on (control on)" and found["smt"].status == INFO
    assert "physical cores" in found["smt"].advice
    assert found["isolated"] == Check("isolated", "2-3", OK)  # cpulab may use them
    assert found["cpu_quota"].status == OK  # no cgroup files at all
    assert noisy_items(found.values()) == []


def test_powersave_and_boost_are_warned_with_what_to_do():
    found = items("powersave")
    governor = found["governor"]
    assert (governor.value, governor.status) == ("powersave on CPUs 0-3", WARN)
    assert "sudo cpupower frequency-set -g performance" in governor.advice
    turbo = found["turbo"]
    assert (turbo.value, turbo.status) == ("on (cpufreq boost)", WARN)
    assert "temperature" in turbo.advice
    assert "echo 0 | sudo tee /sys/devices/system/cpu/cpufreq/boost" in turbo.advice
    assert [c.name for c in noisy_items(found.values())] == ["governor", "turbo"]


def test_intel_turbo_on():
    turbo = items("turbo-intel")["turbo"]
    assert (turbo.value, turbo.status) == ("on (intel_pstate)", WARN)
    assert "echo 1 | sudo tee /sys/devices/system/cpu/intel_pstate/no_turbo" in turbo.advice


def test_smt_off_and_no_isolated_cpus():
    found = items("powersave")
    assert (found["smt"].value, found["smt"].status) == ("off (control off)", INFO)
    assert found["isolated"].value == "none"
    assert "isolcpus=" in found["isolated"].advice


def test_isolated_cpus_that_cpulab_may_not_use():
    isolated = items("performance", cpus=(0, 1))["isolated"]
    assert isolated.status == INFO and "taskset -c 2-3" in isolated.advice


def test_a_cgroup_v2_quota_of_one_and_a_half_cpus_found_from_proc_self_cgroup():
    root = TREES / "powersave"
    scope = root / "sys/fs/cgroup/user.slice/job.scope"
    assert cpu_quota(root) == (1.5, scope / "cpu.max")  # its parent's "max" sets none
    quota = items(root)["cpu_quota"]
    assert quota.value == "1.5 CPUs (/sys/fs/cgroup/user.slice/job.scope/cpu.max)"
    assert quota.status == WARN
    assert "joblib counts 2 cores" in quota.advice
    # The parent's memory.max holds for the scope too, whose own is "max".
    assert memory_cgroup_limit(root) == (2 << 30, scope.parent)
    limit = items(root)["memory_limit"]
    assert limit.value == "2 GiB (/sys/fs/cgroup/user.slice)"


def test_a_cgroup_v1_quota_and_memory_limit_in_a_container():
    root = TREES / "cgroup-v1"
    found = items(root)
    assert found["cpu_quota"].value == "1.5 CPUs (/sys/fs/cgroup/cpu/docker/abc/cpu.cfs_quota_us)"
    # /proc/self/cgroup names /docker/abc, which the container does not have: the top's limit.
    assert found["memory_limit"].value == "1 GiB (/sys/fs/cgroup/memory)"


def test_a_quota_of_all_the_cpus_limits_nothing():
    quota = items("powersave", cpus=(0,))["cpu_quota"]
    assert quota.status == OK


def test_a_tree_with_nothing_reports_nothing_and_warns_of_nothing(tmp_path):
    found = items(tmp_path)
    for name in ("governor", "turbo", "smt", "isolated"):
        assert found[name].value == "not reported", name
    assert found["cpu_quota"].status == OK and found["memory_limit"].status == OK
    assert noisy_items(found.values()) == []


def test_other_load_and_steal_follow_the_runners_noisy_rule():
    quiet = {c.name: c for c in load_checks(busy=0.6, steal=0.0, own=0.5, seconds=0.5, available=4)}
    assert quiet["other_load"].status == OK and quiet["steal"].status == OK
    busy = {c.name: c for c in load_checks(busy=1.0, steal=0.2, own=0.0, seconds=0.5, available=4)}
    assert busy["other_load"].value == "2.00 cores busy with other processes"
    assert busy["other_load"].status == WARN and "noisy" in busy["other_load"].advice
    assert busy["steal"].status == WARN and busy["steal"].value.startswith("0.40 cores")
    assert [c.name for c in noisy_items(busy.values())] == ["other_load", "steal"]


def test_free_memory_and_blas_threads(monkeypatch):
    for name in THREAD_VARIABLES:  # set by a test that ran a runner's limits in-process
        monkeypatch.delenv(name, raising=False)
    assert memory_check(8 << 30, 16 << 30).status == OK
    low = memory_check(1 << 30, 16 << 30)
    assert low.status == WARN and low.value == "1 GiB free of 16 GiB"
    pools = [{"user_api": "blas", "internal_api": "openblas", "version": "0.3.30",
              "num_threads": 64}]  # fmt: skip
    over = library_check(pools, cpus=2)
    assert over.status == WARN and over.value == "openblas 0.3.30: 64 threads"
    assert "--blas-threads 2" in over.advice
    assert library_check([{**pools[0], "num_threads": 2}], cpus=2).status == INFO
    assert library_check(None, cpus=2).value == "not read"


def test_the_summary_keeps_values_statuses_and_the_advice_of_warned_items():
    stored = summary(gather(TREES / "powersave", sample=0, libraries=False, cpus=CPUS))
    assert list(stored) == [name for name in TITLES if name in stored]  # shown in order
    assert stored["governor"]["status"] == WARN and "cpupower" in stored["governor"]["advice"]
    assert stored["smt"] == {"value": "off (control off)", "status": INFO}  # no advice kept
    assert json.loads(json.dumps(stored)) == stored
    assert set(NOISY) <= set(TITLES)


def test_conditions_are_cheap_enough_for_the_runner_and_read_this_machine():
    stored = conditions()
    assert {"governor", "turbo", "smt", "isolated", "cpu_quota", "memory_limit"} <= set(stored)
    assert "other_load" not in stored and "blas" not in stored  # no sampling, no libraries


def test_a_result_keeps_conditions_and_an_old_record_stays_as_it_was():
    from support.store import result

    old = result(1, 1)
    assert "conditions" not in old.record()
    kept = dataclasses.replace(old, conditions={"turbo": {"value": "on", "status": WARN}})
    assert kept.record()["conditions"] == {"turbo": {"value": "on", "status": WARN}}
    assert parse_event(kept.to_json()) == kept


@pytest.mark.parametrize("tree", ["performance", "powersave", "turbo-intel", "cgroup-v1"])
def test_every_item_has_a_title_and_warned_ones_advice(tree):
    for check in items(tree).values():
        assert check.name in TITLES
        assert check.status in (OK, WARN, INFO)
        assert check.status != WARN or check.advice
