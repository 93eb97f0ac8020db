"""`cpulab compare`: the statistics against known values, and the command on real stores."""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import re
from fractions import Fraction
from math import comb
from pathlib import Path

import pytest

from cpulab import cli
from cpulab.engine.compare import (
    hodges_lehmann,
    mann_whitney,
    mann_whitney_u,
    repeats_needed,
    smallest_p,
    u_cdf,
)
from cpulab.engine.store import ResultStore
from support.cli import cpulab
from support.store import ALPHA, BETA, result

PLUGINS = Path(__file__).parent / "plugins"
SPLITS = [(1, 1), (1, 2), (2, 1), (2, 2)]
BASE = {(1, 1): 1.0, (1, 2): 0.6, (2, 1): 0.55, (2, 2): 0.35, (4, 1): 0.3}


def in_process(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = cli.main(list(args))
        except SystemExit as exc:  # argparse's own refusals
            status = exc.code
    return status, out.getvalue(), err.getvalue()


# Mann-Whitney U: the exact distribution


def test_u_distribution_of_three_and_three_is_the_textbook_one():
    # The 20 orderings of 3 + 3 values give U = 0..9 with these counts (Mann & Whitney 1947).
    counts = [1, 1, 2, 3, 3, 3, 3, 2, 1, 1]
    for u in range(10):
        assert u_cdf(u, 3, 3) == pytest.approx(sum(counts[: u + 1]) / 20)
    assert u_cdf(9, 3, 3) == 1.0


@pytest.mark.parametrize(
    ("a", "b", "u", "p"),
    [
        # Every B above every A: p = 2 / comb(m + n, m).
        ([1, 2, 3], [4, 5, 6], 9, Fraction(2, 20)),
        ([1, 2, 3], [4, 5, 6, 7], 12, Fraction(2, 35)),
        ([1, 2, 3, 4], [5, 6, 7, 8], 16, Fraction(2, 70)),
        ([1, 2, 3, 4, 5], [6, 7, 8, 9, 10], 25, Fraction(2, 252)),
        # Two pairs crossed, 5 and 5: P(U <= 2) = (1 + 1 + 2) / 252, the textbook critical
        # value of a two-sided test at 5 %.
        ([1, 2, 3, 4, 6.5], [5, 6, 7, 8, 9], 23, Fraction(8, 252)),
        # Three crossed: P(U <= 3) = 7 / 252, doubled 0.0556, not significant.
        ([1, 2, 3, 4, 7.5], [5, 6, 7, 8, 9], 22, Fraction(14, 252)),
        # Interleaved: U = 6, P(U <= 3) = 7 / 20, doubled.
        ([1, 3, 5], [2, 4, 6], 6, Fraction(14, 20)),
        # U = 5, next to the middle (4.5): P(U <= 4) = 10 / 20, doubled.
        ([1, 4, 5], [2, 3, 6], 5, Fraction(1)),
    ],
)
def test_exact_p_values_of_small_samples(a, b, u, p):
    test = mann_whitney(a, b)
    assert test.exact
    assert test.u == u
    assert test.p_value == pytest.approx(float(p))
    assert mann_whitney(b, a).p_value == pytest.approx(float(p))  # two-sided: symmetric


def test_the_smallest_p_values_and_the_repeats_that_can_reach_five_percent():
    assert smallest_p(3, 3) == pytest.approx(0.1)
    assert smallest_p(3, 4) == pytest.approx(2 / 35)
    assert smallest_p(4, 4) == pytest.approx(2 / 70)
    assert repeats_needed() == 4


def test_ties_count_one_half_and_use_the_normal_approximation_with_the_tie_correction():
    a, b = [1, 1, 2, 2, 3] * 5, [2, 2, 3, 3, 4] * 5
    assert mann_whitney_u([1, 2], [2, 3]) == 3.5
    test = mann_whitney(a, b)
    assert not test.exact
    # By hand: U = 100 + 50 + 200 + 25 + 125 = 500 of 625; groups of 10, 20, 15 and 5 equal
    # values lower the variance from 625 / 12 * 51 to 625 / 12 * (51 - sum(t^3 - t) / 2450).
    variance = 625 / 12 * (51 - (10**3 - 10 + 20**3 - 20 + 15**3 - 15 + 5**3 - 5) / 2450)
    from statistics import NormalDist

    z = (500 - 312.5 - 0.5) / variance**0.5
    assert test.u == 500
    assert test.p_value == pytest.approx(2 * (1 - NormalDist().cdf(z)))
    assert mann_whitney([2, 2, 2], [2, 2, 2]).p_value == 1.0


def test_large_samples_use_the_normal_approximation():
    rng = random.Random(3)
    a = [rng.random() for _ in range(30)]
    b = [rng.random() + 0.5 for _ in range(30)]
    test = mann_whitney(a, b)
    assert not test.exact
    assert test.p_value < 1e-6


def test_exact_counts_sum_to_every_ordering():
    for m in range(1, 8):
        for n in range(1, 8):
            assert u_cdf(m * n, m, n) == 1.0
            assert u_cdf(0, m, n) == pytest.approx(1 / comb(m + n, m))


# Hodges-Lehmann shift and its interval


def test_hodges_lehmann_shift_and_interval_of_five_and_five():
    # Differences 6..14 (25 of them); k = 3 since P(U <= 2) = 4/252 <= 0.025 < 7/252.
    shift = hodges_lehmann([1, 2, 3, 4, 5], [11, 12, 13, 14, 15])
    assert (shift.estimate, shift.low, shift.high) == (10, 7, 13)


def test_hodges_lehmann_is_the_median_of_the_pairwise_differences():
    shift = hodges_lehmann([1.0, 2.0, 4.0], [2.0, 3.0, 10.0])
    # b - a: 1, 0, -2, 2, 1, -1, 9, 8, 6: median 1.
    assert shift.estimate == 1.0
    # 3 and 3: P(U <= 0) = 0.05 > 0.025, no interval can hold 95 %.
    assert shift.low is None and shift.high is None


def test_hodges_lehmann_of_four_and_four_spans_every_difference():
    shift = hodges_lehmann([1, 2, 3, 4], [5, 6, 7, 9])
    assert (shift.low, shift.high) == (1, 8)  # k = 1: P(U <= 0) = 1/70
    assert shift.estimate == 4.0


def test_hodges_lehmann_interval_of_large_samples_holds_the_shift():
    rng = random.Random(5)
    a = [rng.gauss(1.0, 0.05) for _ in range(40)]
    b = [rng.gauss(1.3, 0.05) for _ in range(40)]
    shift = hodges_lehmann(a, b)
    assert shift.low < 0.3 < shift.high
    assert shift.low < shift.estimate < shift.high


# The command, on stores made here


def noisy(times: float, rng: random.Random, repeats: int) -> list[float]:
    return [times * (1 + rng.uniform(-0.02, 0.02)) for _ in range(repeats)]


def add_sweep(store, factor, rng, repeats=6, splits=SPLITS, machine=ALPHA, **changes) -> int:
    sweep_id = store.start_sweep("cv-eval", "small", "grid", [1, 2], repeats, 0, machine)
    for train, eval_ in splits:
        times = noisy(BASE[(train, eval_)] * factor, rng, repeats)
        store.add_point(
            result(train, eval_, task="cv-eval", fit_times=times, machine=machine, **changes),
            sweep_id,
        )
    store.finish_sweep(sweep_id, "done")
    return sweep_id


@pytest.fixture
def sweeps(results_store):
    """Sweeps 1 and 2 of the same times, 6 repeats each; 3, 30 % slower; 4, 30 % slower in
    3 repeats; 5 of other splits; 6, the times of 1 and 2 in 3 repeats."""
    rng = random.Random(11)
    with ResultStore.open(results_store) as store:
        add_sweep(store, 1.0, rng)
        add_sweep(store, 1.0, rng)
        add_sweep(store, 1.3, rng)
        add_sweep(store, 1.3, rng, repeats=3)
        add_sweep(store, 1.0, rng, splits=[*SPLITS[:2], (4, 1)])
        add_sweep(store, 1.0, rng, repeats=3)
    return results_store


def test_a_slower_sweep_is_reported_slower_at_every_point(sweeps):
    status, out, err = in_process("compare", "1", "sweep:3")
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith("A: sweep #1: cv-eval (small), 6 repeats, done, host #1")
    assert lines[1].startswith("B: sweep #3:")
    rows = [line for line in lines if line.startswith(("1 x", "2 x"))]
    assert len(rows) == 4
    for row in rows:
        shift = row.split()[5]
        assert shift.startswith("+") and 25 < float(shift) < 35, row  # no "~"
    assert "B is slower at 4 of 4 points: up to +3" in out
    assert "note:" not in out


def test_the_same_times_are_mostly_not_significant(sweeps):
    status, out, _ = in_process("compare", "sweep:1", "sweep:2")
    assert status == 0
    rows = [line for line in out.splitlines() if line.startswith(("1 x", "2 x"))]
    assert sum("~" in row for row in rows) >= 3
    assert "B is slower at 4" not in out


def test_json_holds_every_point_and_the_verdict(sweeps):
    status, out, _ = in_process("compare", "1", "3", "--json")
    assert status == 0
    document = json.loads(out)
    assert [(p["train"], p["eval"]) for p in document["points"]] == SPLITS
    for point in document["points"]:
        assert point["significant"] and point["exact"]
        assert 25 < point["shift_percent"] < 35
        low, high = point["interval_percent"]
        assert low < point["shift_percent"] < high
    assert document["verdict"].startswith("B is slower at 4 of 4 points")
    assert document["failed"] is False
    assert document["too_few_repeats"] is False


@pytest.mark.parametrize(
    ("pair", "limit", "status", "says"),
    [
        (("1", "3"), "10", 1, "fail: B is slower than A by more than 10 % at 1 x 1"),
        (("1", "3"), "50", 0, "pass: B is nowhere significantly slower than A by more than 50 %"),
        (("1", "2"), "0", 0, "pass:"),
        (("6", "4"), "10", 0, "pass:"),  # 30 % slower, but 3 repeats are never significant
        (("3", "1"), "0", 0, "B is faster at 4 of 4 points: up to -2"),
    ],
)
def test_fail_if_slower_is_a_gate(sweeps, pair, limit, status, says):
    got, out, _ = in_process("compare", *pair, "--fail-if-slower", limit)
    assert got == status
    assert says in out


def test_three_repeats_a_side_say_they_can_never_be_significant(sweeps):
    status, out, _ = in_process("compare", "1", "4")
    assert status == 0
    assert "note:" not in out  # 6 and 3: p can reach 2/84
    status, out, _ = in_process("compare", "6", "4")
    assert status == 0
    assert "~+3" in out
    assert "no significant difference at 4 points" in out
    assert (
        "note: at 1 x 1, with 3 and 3 repeats, no shift can be significant at 5 % "
        "(the smallest p is 0.1)"
    ) in out
    assert "measure again with --repeats 5 or more" in out


def test_unmatched_splits_are_listed_not_compared(sweeps):
    status, out, _ = in_process("compare", "1", "5")
    assert status == 0
    assert "Only in A, not compared: 2 x 1, 2 x 2" in out
    assert "Only in B, not compared: 4 x 1" in out
    assert "at 2 points" in out or "of 2 points" in out


def test_two_stored_results(sweeps):
    # Results 1 and 9: split 1 x 1 of sweeps 1 and 3.
    status, out, _ = in_process("compare", "run:1", "run:9")
    assert status == 0
    assert out.startswith("A: result #1: cv-eval (small) at 1 x 1, 6 repeats, host #1")
    assert "B is slower at 1 of 1 point: up to +3" in out


def test_two_single_results_of_other_splits_are_compared_as_they_are(results_store):
    with ResultStore.open(results_store) as store:
        store.add_point(result(1, 1, task="cv-eval", fit_times=[1.0, 1.01, 0.99, 1.02, 0.98]))
        store.add_point(result(2, 1, task="cv-eval", fit_times=[0.6, 0.61, 0.59, 0.62, 0.58]))
    status, out, _ = in_process("compare", "run:1", "run:2", "--json")
    assert status == 0
    document = json.loads(out)
    [point] = document["points"]
    assert point["shift_percent"] == pytest.approx(-40.0)
    assert point["p_value"] == pytest.approx(2 / 252)
    assert document["verdict"] == "B is faster at 1 of 1 point: up to -40.0 % (1 x 1 vs 2 x 1)"
    assert document["only_a"] == document["only_b"] == []


def test_a_task_on_two_machines_takes_the_newest_of_each_split(results_store):
    rng = random.Random(4)
    with ResultStore.open(results_store) as store:
        add_sweep(store, 2.0, rng, machine=ALPHA)  # older: left out
        add_sweep(store, 1.0, rng, machine=ALPHA)
        add_sweep(store, 1.3, rng, machine=BETA, splits=SPLITS[:3])
    status, out, _ = in_process("compare", "--task", "cv-eval", "--machines", "alpha,beta")
    assert status == 0, out
    assert out.startswith("A: cv-eval (small) on 'alpha': host #1, the newest of each split")
    assert re.search(r"B is slower at 3 of 3 points: up to \+(2[5-9]|3[0-5])\.[0-9] %", out)
    assert "Only in A, not compared: 2 x 2" in out
    status, _, err = in_process("compare", "--task", "cv-eval", "--machines", "alpha,ALPHA")
    assert status == 2
    assert err == "cpulab: error: 'alpha' and 'ALPHA' match the same machine: name two machines\n"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("1",), "name two to compare: sweeps (cpulab compare 12 15)"),
        (("1", "2", "3"), "name two to compare"),
        (("1", "1"), "A and B are both sweep #1: compare two different ones"),
        (("run:2", "run:2"), "A and B are both stored result #2"),
        (("1", "99"), "there is no sweep #99 in"),
        (("run:1", "run:999"), "there is no stored result #999 in"),
        (("0", "1"), "sweep ids start at 1, not 0"),
        (("#1", "2"), "cannot read '#1': name a sweep as 12 or sweep:12"),
        (("1", "2", "--fail-if-slower", "x"), "expected a percentage, not 'x'"),
        (("1", "2", "--fail-if-slower", "-5"), "a slowdown limit is 0 % or more, not -5"),
        (("1", "2", "--fail-if-slower", "nan"), "0 % or more and a number, not nan"),
        (("1", "2", "--fail-if-slower", "inf"), "0 % or more and finite, not inf"),
        (("--task", "cv-eval"), "--task and --machines go together"),
        (("--task", "cv-eval", "--machines", "alpha"), "--machines names two machines"),
        (("--task", "cv-eval", "--machines", "1,1"), "--machines names 1 twice"),
        (("--task", "cv-eval", "--machines", "alpha,gamma"), "on a machine matching 'gamma'"),
        (("1", "2", "--task", "cv-eval"), "not both"),
        (("1", "2", "--scale", "full"), "--scale chooses among a task's results"),
    ],
)
def test_bad_input_is_one_line_and_status_2(sweeps, args, says):
    status, out, err = in_process("compare", *args)
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("cpulab"), err
    assert says in err


def test_results_of_different_tasks_are_not_compared(results_store):
    with ResultStore.open(results_store) as store:
        store.add_point(result(1, 1))
        store.add_point(result(1, 1, task="cv-eval"))
    status, _, err = in_process("compare", "run:1", "run:2")
    assert status == 2
    assert "A ran rf-train (small) and B cv-eval (small)" in err


# The command on sweeps measured here, by a real runner


def test_a_real_slowed_variant_is_reported_significantly_slower(results_store):
    # The same 1 x 2 point of a task file, measured, then with each fold waiting 0.1 s more.
    # A wait is a shift that other work on the machine cannot hide (the tests beside this one
    # share its cores), so five runs a side part every time and the exact test gives p < 0.01.
    for pause in ("0", "0.1"):
        sweep = cpulab(
            "--task-file", str(PLUGINS / "centroid_workers.py"), "sweep", "centroids",
            "--cores", "2", "--strategy", "eval", "--repeats", "5", "--db", str(results_store),
            env={**os.environ, "CENTROIDS_FOLD_PAUSE": pause},
        )  # fmt: skip
        assert sweep.returncode == 0, sweep.stderr
    status, out, _ = in_process("compare", "1", "2", "--json")
    assert status == 0
    document = json.loads(out)
    [point] = document["points"]
    assert (point["train"], point["eval"]) == (1, 2)
    assert point["significant"] and point["shift_percent"] > 10, point
    assert document["verdict"].startswith("B is slower at 1 of 1 point")
    assert in_process("compare", "1", "2", "--fail-if-slower", "5")[0] == 1
    assert in_process("compare", "2", "1", "--fail-if-slower", "5")[0] == 0


def test_one_repeat_is_said_in_the_singular(results_store):
    with ResultStore.open(results_store) as store:
        store.add_point(result(1, 1, task="cv-eval", fit_times=[1.0]))
        store.add_point(result(1, 1, task="cv-eval", fit_times=[1.1, 1.2]))
    status, out, _ = in_process("compare", "run:1", "run:2")
    assert status == 0
    assert out.startswith("A: result #1: cv-eval (small) at 1 x 1, 1 repeat, host #1\n")
    assert "B: result #2: cv-eval (small) at 1 x 1, 2 repeats, host #1" in out


def test_a_deleted_result_is_said_deleted_not_missing(results_store):
    with ResultStore.open(results_store) as store:
        store.add_point(result(1, 1, task="cv-eval"))
        store.add_point(result(1, 2, task="cv-eval"))
        store.delete_points([1])
    status, out, err = in_process("compare", "run:1", "run:2")
    assert (status, out) == (2, "")
    assert err == "cpulab: error: stored result #1 is deleted: cpulab restore 1 brings it back\n"
