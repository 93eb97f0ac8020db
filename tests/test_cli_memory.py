"""Memory per worker on the command line, with real `cpulab` processes: a task whose workers
each hold a known array shows that array as each worker's memory; a run or sweep that the
stored results predict to need more than --memory-limit is refused with the figure, in one
line with exit status 2 and the store as it was; --allow-memory runs it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cpulab.engine.store import ResultStore
from support.bad_input import bad, case_id, check_refused
from support.cli import cpulab
from support.store import digest

HOLD = Path(__file__).parent / "plugins" / "hold_array.py"
HOLD_MB = 300
MiB = 1 << 20


@pytest.fixture
def holding(monkeypatch):
    monkeypatch.setenv("CPULAB_TEST_HOLD_MB", str(HOLD_MB))


def run_holding(*args: str):
    return cpulab("run", "--task-file", str(HOLD), "--eval", "2", *args)


def test_each_worker_shows_the_array_it_holds_and_the_limit_refuses_more(holding, results_store):
    out = run_holding("--json")
    assert out.returncode == 0, out.stderr
    memory = json.loads(out.stdout)["memory"]
    assert len(memory["worker_uss"]) == 2
    for uss in memory["worker_uss"]:
        assert uss == pytest.approx(HOLD_MB * MiB, rel=0.15)
    assert memory["total_pss"] > 2 * HOLD_MB * MiB + memory["runner_uss"]
    assert memory["limit"] > 0

    # The stored result predicts about 0.7 GiB at two workers: over a 500 MiB limit.
    before = digest(results_store)
    refused = run_holding("--memory-limit", "500M")
    assert (refused.returncode, refused.stdout) == (2, ""), refused.stderr
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    assert re.fullmatch(
        r"cpulab: error: hold-array at 1 x 2 would need about [0-9.]+ MiB "
        r"\([0-9.]+ MiB \+ [0-9.]+ MiB per worker x 2\); --memory-limit lets a run use "
        r"500 MiB \(--allow-memory lifts this limit\)\n",
        refused.stderr,
    ), refused.stderr
    need = float(refused.stderr.split("need about ")[1].split(" MiB")[0])
    assert need * MiB == pytest.approx(memory["total_pss"], rel=0.05)
    sweep = cpulab("sweep", "--task-file", str(HOLD), "--cores", "1,2", "--memory-limit", "500M")
    assert sweep.returncode == 2 and "hold-array at 1 x 2 would need" in sweep.stderr
    assert digest(results_store) == before  # nothing written, not even a sweep record

    allowed = run_holding("--memory-limit", "500M", "--allow-memory", "--json")
    assert allowed.returncode == 0, allowed.stderr
    with ResultStore.open(results_store) as store:
        assert len(store.points()) == 2

    # Within the limit nothing is said: the same prediction, about 0.7 GiB, under 4 GiB.
    again = run_holding("--memory-limit", "4G")
    assert again.returncode == 0 and again.stderr == "", again.stderr


BAD_LIMITS = [
    bad("run", "cv-eval", "--memory-limit", "lots",
        says="argument --memory-limit: cannot read memory size 'lots': use bytes, or a number "
             "with K, M, G or T (such as 512M or 2G)"),
    bad("sweep", "cv-eval", "--memory-limit", "0",
        says="argument --memory-limit: a memory limit must be more than nothing, not '0'"),
]  # fmt: skip


@pytest.mark.parametrize("case", BAD_LIMITS, ids=case_id)
def test_a_limit_that_is_no_size_is_refused(case, tmp_path):
    check_refused(case, tmp_path)


def test_a_sweeps_1x1_point_counts_no_workers_of_its_other_points(monkeypatch, results_store):
    # Its runs take turns with the 1 x 2 point's, whose two workers stay up between them,
    # idle: they are no part of the 1 x 1 point's memory.
    monkeypatch.setenv("CPULAB_TEST_HOLD_MB", "50")
    out = cpulab("sweep", "--task-file", str(HOLD), "--cores", "1,2", "--repeats", "2",
                 "--warmup", "0", "--json")  # fmt: skip
    assert out.returncode == 0, out.stderr
    one, two = json.loads(out.stdout)["points"]
    assert (one["eval"], two["eval"]) == (1, 2)
    assert one["memory"]["worker_uss"] == []
    assert len(two["memory"]["worker_uss"]) == 2
    assert one["peak_rss"] < two["peak_rss"]
