"""Core counts beyond the available cores on the command line: refused in one line with exit
status 2 and nothing stored, naming --allow-oversubscribe, which runs them; real `cpulab`
processes on two available cores."""

from __future__ import annotations

import json
import os

import pytest

from cpulab.engine.store import ResultStore
from support.bad_input import bad, case_id, check_refused
from support.cli import cpulab

TWO_CORES = {"LOKY_MAX_CPU_COUNT": "2"}  # fewer only where the machine has one
FLAG = "(--allow-oversubscribe lifts this limit)"
RUN = "is more than the 2 cores available: the run would be oversubscribed " + FLAG


def beyond(*args: str, says: str):
    return bad(*args, says=says, env=TWO_CORES)


BEYOND_THE_CORES = [
    beyond("run", "cv-eval", "--eval", "3", says=f"3 evaluation cores {RUN}"),
    beyond("run", "rf-train", "--train", "8", says=f"8 training cores {RUN}"),
    beyond("run", "cv-eval", "--train", "2", "--eval", "2", says=f"2 x 2 = 4 cores {RUN}"),
    beyond("run", "cv-eval", "--eval", "3", "--json", says=f"3 evaluation cores {RUN}"),
    beyond("sweep", "cv-eval", "--cores", "1-4",
           says="core counts 3 and 4 are more than the 2 cores available: 2 of 4 points would "
                f"be oversubscribed {FLAG}"),
    beyond("sweep", "cv-eval", "--cores", "1-3", "--strategy", "grid",
           says="core count 3 is more than the 2 cores available: 2 of 5 points would be "
                f"oversubscribed {FLAG}"),
    beyond("sweep", "rf-train", "--cores", "3,5,8",
           says="core counts 3, 5 and 8 are more than the 2 cores available: all 3 points "
                f"would be oversubscribed {FLAG}"),
    # Past the cap, the cap says so first: the same option lifts both.
    beyond("sweep", "cv-eval", "--cores", "1-9",
           says=f"9 cores is too many for the 2 cores available: the most is 8, 4 per core {FLAG}"),
]  # fmt: skip


@pytest.fixture
def two_cores(monkeypatch):
    if (os.cpu_count() or 1) < 2 or len(os.sched_getaffinity(0)) < 2:
        pytest.skip("these counts are beyond the cores on two available cores")
    for name, value in TWO_CORES.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize("case", BEYOND_THE_CORES, ids=case_id)
def test_counts_beyond_the_cores_are_refused_naming_the_option(case, two_cores, tmp_path):
    check_refused(case, tmp_path)


def test_the_option_runs_a_split_beyond_the_cores(two_cores, results_store):
    out = cpulab("run", "cv-eval", "--eval", "3", "--allow-oversubscribe", "--json")
    assert out.returncode == 0, out.stderr
    assert "oversubscribed" in json.loads(out.stdout)["flags"]
    with ResultStore.open(results_store) as store:
        (stored,) = store.points()
    assert (stored.result.eval, stored.result.available) == (3, 2)


def test_the_option_runs_a_sweep_beyond_the_cores(two_cores, results_store):
    out = cpulab(
        "--allow-oversubscribe", "sweep", "rf-train", "--cores", "1,3", "--repeats", "1",
        "--warmup", "0", "--json",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    points = json.loads(out.stdout)["points"]
    assert [(p["train"], "oversubscribed" in p["flags"]) for p in points] == [
        (1, False),
        (3, True),
    ]


def test_counts_within_the_cores_need_no_option(two_cores):
    out = cpulab("sweep", "rf-train", "--cores", "1,2", "--repeats", "1", "--warmup", "0")
    assert out.returncode == 0, out.stderr
    assert "allow-oversubscribe" not in out.stderr
