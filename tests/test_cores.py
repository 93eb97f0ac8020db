import os

import pytest

from cpulab.engine import cores
from cpulab.engine.cores import CoreBudget, CoreSplit, core_budget, resolve_n_jobs
from cpulab.engine.errors import UsageError


def test_available_cores_match_joblib():
    from joblib import cpu_count

    assert cores.available_cores() == cpu_count()


@pytest.mark.parametrize("limit", ["1", "0", "-3"])
def test_available_cores_follow_loky_env_limit(monkeypatch, limit):
    from joblib import cpu_count

    monkeypatch.setenv("LOKY_MAX_CPU_COUNT", limit)
    assert cores.available_cores() == cpu_count() == 1


def test_bad_loky_env_limit_is_a_usage_error(monkeypatch):
    monkeypatch.setenv("LOKY_MAX_CPU_COUNT", "lots")
    with pytest.raises(UsageError, match="LOKY_MAX_CPU_COUNT"):
        core_budget()


def test_budget_takes_the_smallest_limit():
    budget = CoreBudget(logical=64, affinity=tuple(range(32)), quota=7.5, env_limit=None)
    assert budget.available == 8  # a 7.5-core quota rounds up, as loky does
    assert CoreBudget(64, tuple(range(32)), None, None).available == 32
    assert CoreBudget(64, tuple(range(32)), None, 4).available == 4


@pytest.mark.parametrize(
    ("cpu_max", "expected"),
    [("max 100000", None), ("150000 100000", 1.5), ("400000 100000", 4.0), ("garbage", None)],
)
def test_cgroup_v2_quota(tmp_path, monkeypatch, cpu_max, expected):
    path = tmp_path / "cpu.max"
    path.write_text(cpu_max + "\n")
    monkeypatch.setattr(cores, "CGROUP_V2_CPU_MAX", path)
    monkeypatch.setattr(cores, "CGROUP_V1_QUOTA", tmp_path / "absent")
    assert cores.cgroup_quota() == expected


def test_cgroup_v1_quota(tmp_path, monkeypatch):
    (tmp_path / "quota").write_text("200000\n")
    (tmp_path / "period").write_text("100000\n")
    monkeypatch.setattr(cores, "CGROUP_V2_CPU_MAX", tmp_path / "absent")
    monkeypatch.setattr(cores, "CGROUP_V1_QUOTA", tmp_path / "quota")
    monkeypatch.setattr(cores, "CGROUP_V1_PERIOD", tmp_path / "period")
    assert cores.cgroup_quota() == 2.0


def test_budget_records_affinity():
    assert core_budget().affinity == tuple(sorted(os.sched_getaffinity(0)))


@pytest.mark.parametrize(
    ("value", "available", "expected"),
    [
        (1, 8, 1),
        (8, 8, 8),
        (12, 8, 12),
        (-1, 8, 8),
        (-2, 8, 7),
        (-8, 8, 1),
        ("3", 8, 3),
        (" -1", 256, 256),
    ],
)
def test_n_jobs_resolve_like_joblib(value, available, expected):
    assert resolve_n_jobs(value, available) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [(0, "cannot be 0"), (-9, "leaves no core"), ("abc", "whole number"), ("1.5", "whole number")],
)
def test_bad_n_jobs(value, message):
    with pytest.raises(UsageError, match=message):
        resolve_n_jobs(value, 8)


def test_split_product_and_oversubscription():
    split = CoreSplit.resolve(2, 4, available=8)
    assert (split.train, split.eval, split.total, split.oversubscribed) == (2, 4, 8, False)
    over = CoreSplit.resolve(-1, 2, available=8)
    assert over.total == 16 and over.oversubscribed
    assert over.describe() == "8 x 2 = 16 of 8 cores (oversubscribed)"
