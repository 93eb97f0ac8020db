"""Scaling models against synthetic curves with known parameters, and their edge cases."""

import json
import math
import random
from functools import cache

import pytest

from cpulab.engine.models import (
    AMDAHL,
    USL,
    ScalingModel,
    fit_scaling,
    fit_usl,
    model_points,
)
from cpulab.engine.stats import PointStats, analyse_scaling

CORES = (1, 2, 4, 8, 16, 32)
REPEATS = 5
TRIALS = 200
# The coverage trials refit 100 resamples rather than the default 200, to keep 800 fits quick
# on a small machine; percentile intervals from 100 resamples are a little noisier, no narrower.
TRIAL_RESAMPLES = 100
# T1 = 10 s; Amdahl with 5 % serial; the USL adds k = 0.003, so its peak is at about 17.8 cores.
TRUE = {AMDAHL: (10.0, 0.05, 0.0), USL: (10.0, 0.05, 0.003)}
SCENARIOS = [(model, noise) for model in (AMDAHL, USL) for noise in (0.02, 0.10)]


def usl_time(t1: float, s: float, k: float, cores: float) -> float:
    return t1 * (1 + s * (cores - 1) + k * cores * (cores - 1)) / cores


def curve(
    rng: random.Random, model: str, noise: float, cores=CORES, repeats=REPEATS
) -> list[tuple[int, list[float]]]:
    """Runs with Gaussian noise of `noise` times the true time."""
    t1, s, k = TRUE[model]
    return [
        (p, [usl_time(t1, s, k, p) * (1 + noise * rng.gauss(0, 1)) for _ in range(repeats)])
        for p in cores
    ]


@cache
def trials(model: str, noise: float) -> tuple[ScalingModel, ...]:
    rng = random.Random(f"{model}-{noise}")
    fits = []
    for seed in range(TRIALS):
        fit = fit_scaling(curve(rng, model, noise), resamples=TRIAL_RESAMPLES, seed=seed)
        assert fit is not None
        fits.append(fit)
    return tuple(fits)


# Known parameters, recovered


@pytest.mark.parametrize(("model", "noise"), SCENARIOS)
def test_parameters_lie_within_their_intervals_in_most_trials(model, noise):
    for name, true in zip(("t1", "s", "k"), TRUE[model], strict=True):
        covered = 0
        for fit in trials(model, noise):
            fitted = fit.usl if model == USL else fit.amdahl
            assert fitted is not None
            estimate = getattr(fitted, name)
            covered += estimate.low <= true <= estimate.high
        assert covered / TRIALS >= 0.9, f"{name}: {covered} of {TRIALS} intervals hold {true}"


@pytest.mark.parametrize(("model", "noise"), SCENARIOS)
def test_the_right_model_is_chosen_in_most_trials(model, noise):
    right = sum(fit.chosen == model for fit in trials(model, noise))
    assert right / TRIALS >= 0.9, f"{right} of {TRIALS}"


@pytest.mark.parametrize("noise", [0.02, 0.10])
def test_the_retrograde_peak_is_found_within_one_core_count_step(noise):
    _, s, k = TRUE[USL]
    true_peak = math.sqrt((1 - s) / k)
    found = 0
    for fit in trials(USL, noise):
        peak = fit.peak
        # The measured counts double, so one step is a factor of two either way.
        found += peak is not None and abs(math.log2(peak.value / true_peak)) <= 1
    assert found / TRIALS >= 0.9, f"{found} of {TRIALS}"


def test_noise_free_points_give_back_their_parameters():
    for model, (t1, s, k) in TRUE.items():
        times = [usl_time(t1, s, k, p) for p in CORES]
        got = fit_usl(CORES, times, [1.0] * len(CORES), contention=model == USL)
        assert got == pytest.approx((t1, s, k), abs=1e-9)


def test_a_fit_keeps_each_of_its_200_resamples():
    points = curve(random.Random(3), USL, 0.05)
    fit = fit_scaling(points, resamples=200)
    assert fit is not None and len(fit.best.samples) == 200


def test_the_same_seed_gives_the_same_answer():
    points = curve(random.Random(4), USL, 0.05)
    first, second = fit_scaling(points, seed=7), fit_scaling(points, seed=7)
    assert first is not None and second is not None
    assert first.to_dict(64) == second.to_dict(64)


# What the chosen model says


def test_a_retrograde_curve_warns_and_explains_its_choice():
    fit = fit_scaling(curve(random.Random(5), USL, 0.02))
    assert fit is not None and fit.chosen == USL
    assert fit.reason.startswith("the USL: its AICc is ")
    assert fit.criterion == "AICc"
    notes = fit.warnings()
    assert any(n.startswith("retrograde scaling: the speed-up peaks at about 1") for n in notes)
    assert fit.karp_flatt_trend() == "rising"
    assert any("Karp-Flatt serial fraction rises" in n and "the USL's k term" in n for n in notes)


def test_a_peak_just_beyond_the_measured_cores_warns_of_what_is_ahead():
    fit = fit_scaling(curve(random.Random(6), USL, 0.02, cores=(1, 2, 4, 8, 12)))
    assert fit is not None and fit.chosen == USL
    assert any(n.startswith("retrograde scaling ahead:") for n in fit.warnings())


def test_an_amdahl_curve_has_no_peak_and_explains_its_choice():
    fit = fit_scaling(curve(random.Random(7), AMDAHL, 0.02))
    assert fit is not None and fit.chosen == AMDAHL
    assert fit.reason.startswith("Amdahl's law: ")
    assert fit.peak is None and fit.best.k.value == 0
    assert not any("retrograde" in n for n in fit.warnings())


def test_predictions_carry_intervals_and_say_where_they_extrapolate():
    fit = fit_scaling(curve(random.Random(8), AMDAHL, 0.02))
    assert fit is not None
    rows = {p.cores: p for p in fit.predictions(machine_cores=48)}
    assert sorted(rows) == [1, 2, 4, 8, 16, 32, 48, 64, 96]
    for row in rows.values():
        for estimate in (row.time, row.speedup, row.efficiency):
            assert estimate.low <= estimate.value <= estimate.high
        assert row.efficiency.value == pytest.approx(row.speedup.value / row.cores)
    assert rows[8].measured and not rows[8].extrapolated
    assert rows[48].extrapolated and not rows[48].beyond_machine
    assert rows[64].beyond_machine
    # The further from the points, the wider the interval.
    width = {p: rows[p].time.high / rows[p].time.low for p in (16, 96)}
    assert width[96] > width[16]


def test_the_knee_is_the_fewest_cores_within_ten_percent_of_the_best():
    t1, s, _ = TRUE[AMDAHL]
    fit = fit_scaling([(p, [usl_time(t1, s, 0.0, p)] * 3) for p in CORES])
    assert fit is not None
    knee = fit.knee(64)
    # 10 (0.05 + 0.95 / p) <= 1.1 * 10 (0.05 + 0.95 / 64) first holds at p = 45.
    assert (knee.cores, knee.best_cores) == (45, 64)
    assert knee.sentence().endswith(f"the last 19 cores buy {knee.gain:.1%}")
    assert knee.gain == pytest.approx(1 - usl_time(t1, s, 0, 64) / usl_time(t1, s, 0, 45))


def test_to_dict_is_json_ready_without_nan():
    fit = fit_scaling(curve(random.Random(9), AMDAHL, 0.1))
    assert fit is not None
    document = json.loads(json.dumps(fit.to_dict(machine_cores=16), allow_nan=False))
    assert document["chosen"] == AMDAHL
    assert document["amdahl"]["peak"] is None
    assert len(document["predictions"]) == 6
    assert document["knee"]["best_cores"] == 16


def test_a_scaling_report_gives_its_fastest_split_of_each_core_count():
    stats = {t: PointStats.of([t, t * 1.01, t * 0.99]) for t in (8.0, 4.5, 4.2, 2.4)}
    report = analyse_scaling([(1, 1, stats[8.0]), (2, 1, stats[4.5]), (1, 2, stats[4.2])])
    assert model_points(report) == [(1, stats[8.0].times), (2, stats[4.2].times)]


# Edge cases


def test_one_core_count_has_no_curve():
    assert fit_scaling([(4, [1.0, 1.1]), (4, [1.05])]) is None


def test_two_core_counts_fit_amdahl_and_ask_for_two_more():
    fit = fit_scaling([(1, [10.0, 10.2, 9.9]), (4, [3.2, 3.1, 3.3])])
    assert fit is not None
    assert fit.usl is None and fit.chosen == AMDAHL
    assert fit.reason == "Amdahl's law: the USL needs at least three core counts"
    assert (
        "only 2 core counts were measured: 2 more (4 in all) would be enough to fit the USL's "
        "three parameters and check them"
    ) in fit.warnings()


def test_identical_times_mean_no_speed_up():
    fit = fit_scaling([(p, [5.0] * 4) for p in (1, 2, 4, 8)])
    assert fit is not None and fit.chosen == AMDAHL
    assert fit.best.s.value == pytest.approx(1)
    assert (fit.best.s.low, fit.best.s.high) == pytest.approx((1, 1))
    assert fit.predict(16).time.value == pytest.approx(5)
    assert "the times do not fall with more cores: there is no speed-up to model" in (
        fit.warnings()
    )
    json.dumps(fit.to_dict(8), allow_nan=False)


def test_superlinear_runs_hold_the_serial_fraction_at_zero_and_say_so():
    rng = random.Random(10)
    # 20 % faster than a perfect 1/p beyond one core, as when the data starts to fit in cache.
    points = [
        (p, [(10 / p) * (0.8 if p > 1 else 1) * (1 + 0.01 * rng.gauss(0, 1))] * 5) for p in CORES
    ]
    fit = fit_scaling(points)
    assert fit is not None
    assert fit.best.s.value == 0 and fit.best.k.value == 0
    assert all(fit.predict(p).speedup.value <= p + 1e-9 for p in CORES)
    assert any("superlinear" in n for n in fit.warnings())


def test_outlying_runs_are_left_out_and_counted():
    points = [
        (p, [usl_time(10, 0.05, 0, p) * f for f in (1, 1.01, 0.99, 1.0, 1.02)]) for p in CORES
    ]
    points[2] = (4, [*points[2][1][:4], 50.0])
    fit = fit_scaling(points)
    assert fit is not None
    assert fit.points[2].dropped == 1
    assert fit.best.s.value == pytest.approx(0.05, abs=0.01)
    assert (
        "1 run was left out of the fit (statistical outliers, or a slow first run)"
        in fit.warnings()
    )


def test_a_slow_first_run_is_left_out_as_the_medians_would_have_it():
    # Three runs a point, the first of 1 x 1 half again as slow: the medians say 2 cores
    # do not help (0.0664 s against 0.067 s), and so must the model, whose weights come
    # from the other runs' spread and would otherwise hold the mean at 0.078 s.
    fit = fit_scaling([(1, [0.101, 0.0662, 0.0666]), (2, [0.073, 0.059, 0.069])])
    assert fit is not None
    assert fit.points[0].n == 2 and fit.points[0].dropped == 1
    assert fit.points[0].mean == pytest.approx(0.0664)
    assert fit.best.s.value == pytest.approx(1.0, abs=0.05)  # no speed-up to predict


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="positive and finite"):
        fit_scaling([(1, [1.0]), (2, [math.nan])])
    with pytest.raises(ValueError, match="cores must be at least 1"):
        fit_scaling([(0, [1.0]), (2, [0.5])])
    with pytest.raises(ValueError, match="resamples"):
        fit_scaling([(1, [1.0]), (2, [0.5])], resamples=0)


def test_a_single_run_a_point_gives_no_interval_and_says_so():
    from cpulab.engine.presentation import model_lines

    single = fit_scaling([(1, [10.0]), (2, [5.6]), (4, [3.4])])
    assert single is not None and not single.intervals_known
    assert any("single run" in w for w in single.warnings())
    assert single.to_dict()["intervals_known"] is False
    lines = model_lines(single, machine_cores=4, baseline=10.0)
    assert "[" not in lines[0]  # no interval where the runs cannot give one
    repeated = fit_scaling([(1, [10.0, 10.2]), (2, [5.6, 5.5]), (4, [3.4, 3.5])])
    assert repeated is not None and repeated.intervals_known
    assert "[" in model_lines(repeated, machine_cores=4, baseline=10.1)[0]


def test_a_predicted_speedup_is_over_the_measured_1x1_as_the_tables_are():
    from cpulab.engine.presentation import model_lines

    # More cores only slow it: the model's own speed-up, over its fitted T1, stays 1.00x
    # at a time slower than the 1 x 1 measured.
    model = fit_scaling([(1, [1.0, 1.01]), (2, [1.1, 1.12]), (4, [1.2, 1.21])])
    assert model is not None
    eight = model.predict(8)
    assert eight.time.value > 1.0 and round(eight.speedup.value, 2) == 1.0
    [predicted] = [
        line for line in model_lines(model, 4, baseline=1.0) if line.startswith("predicted:")
    ]
    assert f"8 cores {eight.time.value:.3g} " in predicted
    assert f"s, {1.0 / eight.time.value:.2f}x (beyond this machine)" in predicted
    # Without a 1 x 1 measured, over the model's own 1-core time, and saying so.
    [own] = [line for line in model_lines(model, 4, baseline=None) if line.startswith("predicted:")]
    assert "1.00x the model's 1 core" in own
