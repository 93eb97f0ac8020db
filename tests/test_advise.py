"""The adviser's search against simulated machines, its limits, and its advice as data and text."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from cpulab.engine.advise import (
    BUDGET,
    SETTLED,
    Advice,
    AdviceRequest,
    BudgetExhausted,
    Setting,
    Trial,
    advise,
    blas_choices,
    code_lines,
    curve_counts,
    grid_cores,
    median_interval,
    parse_duration,
    splits,
)
from cpulab.engine.advise_sim import KINDS, MIB, SimulatedMachine
from cpulab.engine.errors import UsageError

BOTH = frozenset({"train", "eval"})
SHARE = 0.25  # of the exhaustive grid's cost: the budget, and the most a search may spend


def blas_for(kind: str) -> tuple[int, ...]:
    return (1, 2, 4, 8) if kind == "blas-sensitive" else ()


def grid_of(cores: int, kind: str, knobs: frozenset[str] = BOTH) -> tuple[list[Setting], float]:
    truth = SimulatedMachine(cores, 0, kind=kind)
    grid = truth.grid(knobs, blas_for(kind))
    return grid, truth.grid_cost(grid)


def search(
    cores: int, kind: str, seed: int, knobs: frozenset[str] = BOTH, **request
) -> tuple[Advice, SimulatedMachine, float]:
    _, cost = grid_of(cores, kind, knobs)
    budget = request.pop("budget", SHARE * cost)
    machine = SimulatedMachine(cores, seed, kind=kind, budget=budget)
    advice = advise(AdviceRequest(cores, budget, knobs, blas_for(kind), **request), machine)
    return advice, machine, cost


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_within_five_percent_of_the_best_for_a_quarter_of_the_grid(kind: str, seed: int) -> None:
    advice, machine, cost = search(16, kind, seed)
    grid, _ = grid_of(16, kind)
    _, best_time = machine.best(grid)
    assert machine.time(advice.best.setting) <= 1.05 * best_time
    assert advice.spent <= SHARE * cost
    assert advice.best.setting.cores <= 16
    assert all(t.setting in grid for t in advice.trials)
    assert advice.best.n >= 3  # the final comparison's repeats
    assert advice.stopped in (SETTLED, BUDGET)


def test_a_generous_budget_settles_on_its_own() -> None:
    advice, _, cost = search(16, "eval-heavy", 0, budget=10_000.0)
    assert advice.stopped == SETTLED
    assert advice.spent < 0.35 * cost
    assert advice.notes  # how it ended, in words


def test_never_recommends_over_the_memory_limit() -> None:
    limit = 900 * MIB  # 4 evaluation workers fit, 8 do not
    for seed in range(3):
        advice, machine, _ = search(16, "eval-heavy", seed, memory_limit=limit)
        assert machine.memory(advice.best.setting) <= limit
        assert advice.best.memory is not None and advice.best.memory <= limit
        assert advice.best.setting.eval <= 4
        # Beyond the curve, nothing predicted over the limit is measured either.
        curve = {Setting(1, p) for p in curve_counts(16)}
        assert all(
            machine.memory(t.setting) <= limit for t in advice.trials if t.setting not in curve
        )


def test_a_task_without_an_evaluation_knob_keeps_evaluation_at_one() -> None:
    knobs = frozenset({"train"})
    advice, _, _ = search(16, "train-heavy", 0, knobs)
    assert {t.setting.eval for t in advice.trials} == {1}
    assert advice.best.setting == Setting(16, 1)
    assert code_lines(advice.best.setting, knobs) == ["estimator: n_jobs=16"]


def test_a_budget_too_small_stops_with_the_best_so_far() -> None:
    machine = SimulatedMachine(16, 0, kind="eval-heavy")
    # The curve's batch, and little more: the budget ends during the search.
    budget = 2 + sum(machine.time(Setting(1, p)) for p in curve_counts(16)) + 5
    advice, machine, _ = search(16, "eval-heavy", 0, budget=budget)
    assert advice.stopped == BUDGET
    assert advice.spent <= budget
    assert advice.best.setting == min(advice.trials, key=lambda t: t.median).setting
    assert advice.baseline is not None and advice.baseline.setting == Setting(1, 1)
    assert any("budget" in note for note in advice.notes)


def test_the_budget_ending_mid_batch_keeps_the_runs_that_finished() -> None:
    machine = SimulatedMachine(16, 0, kind="eval-heavy")
    # The curve runs 1 x 16, 1 x 4, then 1 x 1: the budget ends during 1 x 1.
    budget = 2 + machine.time(Setting(1, 16)) + machine.time(Setting(1, 4)) + 10
    advice, _, _ = search(16, "eval-heavy", 0, budget=budget)
    assert advice.stopped == BUDGET
    assert advice.baseline is None
    assert {t.setting for t in advice.trials} == {Setting(1, 16), Setting(1, 4)}
    assert advice.best.setting == Setting(1, 16)
    assert "the budget ran out during a batch" in " ".join(advice.notes)
    assert advice.speedup is None and advice.efficiency is None
    json.dumps(advice.to_dict(), allow_nan=False)


def test_no_run_at_all_raises_budget_exhausted() -> None:
    with pytest.raises(BudgetExhausted):
        search(16, "eval-heavy", 0, budget=1.0)


class Scripted:
    """A measurer of fixed times that runs out of budget in its `stop_at`-th batch, after
    the first setting of that batch."""

    def __init__(self, times: dict[Setting, float], stop_at: int) -> None:
        self.times, self.stop_at = times, stop_at
        self.batches = 0
        self._spent = 0.0

    def measure(self, settings: Sequence[Setting], repeats: int) -> list[Trial]:
        self.batches += 1
        trials = [Trial(s, (self.times[s],) * repeats, 100 * MIB) for s in settings]
        if self.batches == self.stop_at:
            self._spent += self.times[settings[0]] * repeats
            raise BudgetExhausted(trials[:1])
        self._spent += sum(self.times[s] * repeats for s in settings)
        return trials

    def spent(self) -> float:
        return self._spent


def test_a_measurer_may_stop_in_the_split_phase() -> None:
    times = {s: 10.0 / s.cores + 0.1 * s.train for s in AdviceRequest(4, 1.0, BOTH).space()}
    measurer = Scripted(times, stop_at=2)
    advice = advise(AdviceRequest(4, 1000.0, BOTH), measurer)
    assert advice.stopped == BUDGET
    assert measurer.batches == 2
    # The curve (1 x 4, 1 x 1), and the first candidate of the next batch.
    assert len(advice.trials) == 3
    assert advice.best.setting == Setting(1, 4)


def test_to_dict_is_strict_json_and_from_dict_gives_it_back() -> None:
    advice, _, _ = search(16, "blas-sensitive", 3, memory_limit=4096 * MIB)
    data = json.loads(json.dumps(advice.to_dict(), allow_nan=False))
    again = Advice.from_dict(data)
    assert again == advice
    assert again.to_dict() == advice.to_dict()
    assert data["interval"]["method"].startswith("distribution-free")
    assert data["code"] == code_lines(advice.best.setting, BOTH)
    assert {m["cores"] for m in data["measured_predicted"]} == {
        t.setting.cores for t in advice.trials
    }


def test_the_report_says_what_to_write_and_how_the_search_ended() -> None:
    advice, _, _ = search(16, "eval-heavy", 0)
    text = "\n".join(advice.lines())
    assert text.startswith("recommended: training 1 x evaluation 16 = 16 cores of 16")
    assert "evaluation (cross_val_score / GridSearchCV): n_jobs=16" in text
    assert "speed-up: " in text and "knee: " in text and "memory: " in text
    assert "measured against predicted" in text
    assert "search: " in text
    assert "estimator: max_workers=1" in "\n".join(advice.lines("max_workers"))


def test_code_lines() -> None:
    assert code_lines(Setting(2, 4), BOTH) == [
        "estimator: n_jobs=2",
        "evaluation (cross_val_score / GridSearchCV): n_jobs=4",
    ]
    lines = code_lines(Setting(1, 4, 2), frozenset({"eval"}))
    assert lines[0] == "evaluation (cross_val_score / GridSearchCV): n_jobs=4"
    assert lines[1].startswith("with parallel_config(inner_max_num_threads=2): ...")
    assert lines[2].startswith("with threadpool_limits(limits=2): ...")
    assert code_lines(Setting(8, 1, 1), frozenset({"train"}))[1].startswith(
        "with threadpool_limits(limits=1)"
    )


def test_the_advice_derives_speedup_efficiency_knee_and_interval() -> None:
    advice, _, _ = search(16, "train-heavy", 1)
    assert advice.baseline is not None and advice.speedup is not None
    assert advice.speedup == pytest.approx(advice.baseline.median / advice.best.median)
    assert advice.efficiency == pytest.approx(advice.speedup / advice.cores_in_use)
    assert advice.cores_in_use == min(advice.best.setting.threads, 16)
    assert advice.knee is not None and advice.knee.cores <= 16
    interval = advice.interval
    assert interval.low <= advice.best.median <= interval.high


def test_blas_threads_count_as_cores_in_use_for_the_efficiency() -> None:
    advice, _, _ = search(16, "blas-sensitive", 0)
    best = advice.best.setting
    assert best.blas is not None and best.blas > 1  # this machine's best uses BLAS threads
    assert advice.cores_in_use == min(best.cores * best.blas, 16) > best.cores
    assert advice.efficiency is not None and advice.speedup is not None
    assert advice.efficiency == pytest.approx(advice.speedup / advice.cores_in_use)
    cores = advice.cores_in_use
    assert advice.lines()[0].endswith(f"BLAS threads {best.blas} = {cores} cores of 16")


def test_median_interval_by_order_statistics() -> None:
    three = median_interval([3.0, 1.0, 2.0])
    assert (three.low, three.high, three.confidence) == (1.0, 3.0, 0.75)
    ten = median_interval([float(i) for i in range(10)])
    # [x(2), x(9)] covers 1 - 2 P(B(10, 1/2) <= 1) = 97.9 %; [x(3), x(8)] only 89 %.
    assert (ten.low, ten.high) == (1.0, 8.0)
    assert ten.confidence == pytest.approx(1 - 2 * 11 / 1024)


def test_splits_counts_and_the_grid() -> None:
    assert splits(8, BOTH) == [(1, 8), (2, 4), (4, 2), (8, 1)]
    assert splits(8, frozenset({"eval"})) == [(1, 8)]
    assert splits(8, frozenset({"train"})) == [(8, 1)]
    assert len(splits(256, BOTH)) == 9
    assert grid_cores(12) == (1, 2, 4, 8, 12)
    assert curve_counts(16) == [16, 4, 1]
    assert curve_counts(256) == [256, 64, 16, 4, 1]
    assert curve_counts(12) == [12, 8, 2, 1]
    assert curve_counts(1) == [1]


def test_one_core_needs_no_search() -> None:
    advice, _, _ = search(1, "eval-heavy", 0, budget=10_000.0)
    assert advice.best.setting == Setting(1, 1)
    assert advice.model is None


def test_the_same_seed_gives_the_same_advice() -> None:
    assert search(16, "retrograde", 4)[0] == search(16, "retrograde", 4)[0]


@pytest.mark.parametrize(
    "request_args",
    [
        {"max_cores": 0},
        {"budget": 0.0},
        {"budget": float("nan")},
        {"knobs": frozenset()},
        {"knobs": frozenset({"blas"})},
        {"blas": (0,)},
        {"repeats": 0},
        {"memory_limit": 0},
    ],
)
def test_bad_requests_are_refused(request_args: dict) -> None:
    args = {"max_cores": 4, "budget": 60.0, "knobs": BOTH, **request_args}
    with pytest.raises(UsageError):
        AdviceRequest(**args)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90.0),
        ("90s", 90.0),
        ("2m", 120.0),
        ("1h30m", 5400.0),
        ("1.5h", 5400.0),
        ("1h2m3s", 3723.0),
        (" 2 m ", 120.0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text", ["", "m", "2x", "-1m", "0", "0s", "1m-", "inf", "1h30", "2m2m", "30s1m"]
)
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(UsageError):
        parse_duration(text)


def test_blas_choices() -> None:
    assert blas_choices(None, 16) == ()
    assert blas_choices("  ", 16) == ()
    assert blas_choices("auto", 16) == (1, 2, 4, 8)
    assert blas_choices("auto", 2) == (1, 2)
    assert blas_choices("1,2,4", 16) == (1, 2, 4)
    assert blas_choices("1-3", 2) == (1, 2, 3)
    with pytest.raises(UsageError):
        blas_choices("0", 16)


class AlikeOnTwoCores:
    """1 x 1 and 1 x 2 within a per cent of each other, their runs interleaved alike."""

    def __init__(self) -> None:
        self.runs = 0

    def measure(self, settings: Sequence[Setting], repeats: int) -> list[Trial]:
        trials = []
        for setting in settings:
            base = 1.0 if setting.cores == 1 else 0.995
            times = []
            for _ in range(repeats):
                self.runs += 1
                times.append(base + 0.004 * (self.runs % 3))
            trials.append(Trial(setting, tuple(times), None))
        return trials

    def spent(self) -> float:
        return float(self.runs)


def test_candidates_that_cannot_be_told_apart_leave_the_fewer_cores_recommended() -> None:
    advice = advise(AdviceRequest(2, 1000.0, frozenset({"eval"})), AlikeOnTwoCores())
    assert advice.best.setting == Setting(1, 1, None)
    said = " ".join(advice.notes)
    assert "not significantly different" in said
    assert "1 x 1 is as fast as 1 x 2, the fastest measured (within 2.5% and not" in said
