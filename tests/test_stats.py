"""Statistics and scaling analysis against values worked out by hand."""

import json
import math
import subprocess
import sys

import pytest

from cpulab.engine.events import Result
from cpulab.engine.presentation import fit_summary
from cpulab.engine.stats import (
    PointStats,
    ScalingReport,
    analyse_results,
    analyse_scaling,
    fit_amdahl,
)

FIRST_RUN_SLOW = (
    "the first run was much slower than the rest: consider more warm-up runs (--warmup)"
)
NOISY = "other processes used the CPU during this point"


def result(train: int, eval_: int, times: list[float], **changes) -> Result:
    fields = {
        "task": "rf-train",
        "title": "Random forest",
        "scale": "small",
        "train": train,
        "eval": eval_,
        "available": 16,
        "fit_times": times,
        "warmup_times": [],
        "setup": {},
        "cpu_time": 1.0,
        "peak_rss": 1 << 20,
        "score": 0.9,
        "metric": "accuracy",
    }
    return Result(**{**fields, **changes})


def amdahl(serial: float, t1: float, cores: int) -> float:
    return t1 * (serial + (1 - serial) / cores)


# PointStats


def test_median_min_max_mad_and_an_outlier_on_a_small_list():
    # median 1.2; deviations 0.2 0.1 0 0.1 3.8, so MAD 0.1; 3.8 / 0.1 = 38 > 14.826
    stats = PointStats.of([1.0, 1.1, 1.2, 1.3, 5.0])
    assert stats.n == 5
    assert stats.median == pytest.approx(1.2)
    assert (stats.min, stats.max) == (1.0, 5.0)
    assert stats.mad == pytest.approx(0.1)
    assert stats.sigma == pytest.approx(0.14826)
    assert stats.outliers == (4,)
    assert not stats.first_run_slow


def test_even_count_takes_the_middle_two():
    # median (2 + 3) / 2; deviations 1.5 1.5 0.5 0.5, so MAD (0.5 + 1.5) / 2
    stats = PointStats.of([4.0, 1.0, 3.0, 2.0])
    assert (stats.median, stats.mad) == (2.5, 1.0)
    assert stats.outliers == ()


def test_zero_mad_makes_any_other_run_an_outlier():
    stats = PointStats.of([1.0, 1.0, 1.0, 1.0, 5.0])
    assert stats.mad == 0
    assert stats.outliers == (4,)
    assert not stats.first_run_slow
    assert stats.warnings() == ["1 of 5 runs is a statistical outlier"]
    assert PointStats.of([2.0, 2.0, 2.0, 2.0, 2.0]).outliers == ()


def test_too_few_runs_name_no_outliers():
    # Four runs: 5.0 is far out, but a MAD of so few runs says too little to call it.
    assert PointStats.of([1.0, 1.0, 1.0, 5.0]).outliers == ()


def test_first_run_rule_is_ten_robust_deviations_above_the_median():
    # The rest give median 1.0 and MAD 0.05: slow beyond 1.0 + 1.4826 * 10 * 0.05 = 1.7413.
    rest = [0.9, 1.0, 1.1, 1.0, 1.0]
    below = PointStats.of([1.74, *rest])
    assert (below.median, below.mad) == (pytest.approx(1.0), pytest.approx(0.05))
    assert below.outliers == ()  # 0.74 / 0.05 = 14.8, just inside 14.826
    assert not below.first_run_slow
    above = PointStats.of([1.75, *rest])
    assert above.first_run_slow and above.outliers == (0,)
    assert above.warnings() == [FIRST_RUN_SLOW]


def test_a_fast_first_run_is_an_outlier_but_not_slow():
    stats = PointStats.of([0.2, 1.0, 1.0, 1.1, 0.9, 1.0])
    assert stats.outliers == (0,)
    assert not stats.first_run_slow


def test_first_run_above_identical_others_is_slow_as_in_hyperfine():
    stats = PointStats.of([5.0, 1.0, 1.0, 1.0])
    assert stats.first_run_slow
    assert stats.outliers == ()  # four runs are too few to name outliers


def test_one_or_two_runs_raise_no_alarm():
    assert PointStats.of([2.0]).warnings() == []
    two = PointStats.of([5.0, 1.0])  # median 3, MAD 2: the first is one MAD out
    assert (two.median, two.mad, two.outliers, two.first_run_slow) == (3.0, 2.0, (), False)


def test_no_times_is_an_error():
    with pytest.raises(ValueError):
        PointStats.of([])


def test_warnings_count_outliers():
    # median 1.0, MAD 0.05: 3.0 and 4.0 are outliers, 1.1 (z = 1.35) is not
    stats = PointStats.of([1.0, 1.0, 1.1, 0.9, 1.0, 1.05, 0.95, 1.0, 3.0, 4.0])
    assert stats.outliers == (8, 9)
    assert stats.warnings() == ["2 of 10 runs are statistical outliers"]


def test_warnings_separate_the_slow_first_run_from_other_outliers_and_noise():
    # median 1.0, MAD 0.1: the first run is 20 MADs out, the last one 30
    stats = PointStats.of([3.0, 1.0, 1.0, 1.1, 0.9, 1.0, 4.0])
    assert stats.outliers == (0, 6)
    assert stats.first_run_slow
    assert stats.warnings(["noisy", "oversubscribed"]) == [
        FIRST_RUN_SLOW,
        "besides the first, 1 of 7 runs is a statistical outlier",
        NOISY,
    ]


def test_point_stats_to_dict():
    assert PointStats.of([2.0, 1.0, 3.0]).to_dict() == {
        "n": 3,
        "times": [2.0, 1.0, 3.0],
        "median": 2.0,
        "min": 1.0,
        "max": 3.0,
        "mad": 1.0,
        "outliers": [],
        "first_run_slow": False,
    }


# The fit


def test_fit_by_hand():
    # x = 1/p = 1, 0.5, 0.25 and y = 10, 6, 5: means 7/12 and 7, Sxx = 7/24, Sxy = 2,
    # so b = 48/7 and a = 7 - b * 7/12 = 3; residuals 1/7, -3/7, 2/7.
    fit = fit_amdahl([1, 2, 4], [10.0, 6.0, 5.0])
    assert fit.a == pytest.approx(3.0, abs=1e-12)
    assert fit.b == pytest.approx(48 / 7, abs=1e-12)
    assert fit.r_squared == pytest.approx(1 - (2 / 7) / 14, abs=1e-12)
    assert fit.rms_residual == pytest.approx(math.sqrt(2 / 21), abs=1e-12)
    assert fit.serial_fraction == pytest.approx(7 / 23, abs=1e-12)
    assert fit.speedup_ceiling == pytest.approx(23 / 7, abs=1e-12)
    assert fit.predict(2) == pytest.approx(3 + 24 / 7)
    assert (fit.n, fit.distinct_cores) == (3, 3)
    assert fit.warnings() == []


@pytest.mark.parametrize("sigmas", [None, [0.1, 0.5, 0.01, 2.0, 0.3, 1.0]])
def test_fit_recovers_a_known_serial_fraction(sigmas):
    a, b = 2.0, 30.0  # serial fraction 2 / 32
    cores = [1, 2, 4, 8, 16, 4]
    fit = fit_amdahl(cores, [a + b / p for p in cores], sigmas)
    assert fit.a == pytest.approx(a, abs=1e-9)
    assert fit.b == pytest.approx(b, abs=1e-9)
    assert fit.serial_fraction == pytest.approx(0.0625, abs=1e-6)
    assert fit.speedup_ceiling == pytest.approx(16.0, abs=1e-6)
    assert fit.r_squared == pytest.approx(1.0, abs=1e-12)


def test_weights_let_precise_points_outvote_a_noisy_one():
    cores = [1, 2, 4, 8, 16]
    times = [2.0 + 30.0 / p for p in cores]
    times[-1] += 1.0  # one point far off the curve, and known to be noisy
    sigmas = [0.01, 0.01, 0.01, 0.01, 10.0]
    assert fit_amdahl(cores, times, sigmas).a == pytest.approx(2.0, abs=1e-4)
    assert abs(fit_amdahl(cores, times).a - 2.0) > 0.1


def test_a_single_core_count_has_no_fit():
    assert fit_amdahl([4, 4, 4], [1.0, 1.1, 0.9]) is None
    assert fit_amdahl([], []) is None


def test_fit_rejects_mismatched_or_zero_sigmas():
    with pytest.raises(ValueError):
        fit_amdahl([1, 2], [1.0])
    with pytest.raises(ValueError):
        fit_amdahl([1, 2], [1.0, 0.6], [0.1, 0.0])


def test_superlinear_points_give_a_negative_serial_time_said_plainly():
    # x = 1, 0.5, 0.25 and y = 10, 4.5, 2: Sxy = 3.125, so b = 75/7 and a = -0.75
    fit = fit_amdahl([1, 2, 4], [10.0, 4.5, 2.0])
    assert fit.a == pytest.approx(-0.75, abs=1e-12)
    assert fit.serial_fraction == 0.0
    assert fit.speedup_ceiling == math.inf
    assert fit.to_dict()["speedup_ceiling"] is None
    assert any("negative" in w for w in fit.warnings())


def test_times_growing_with_cores_are_said_plainly():
    fit = fit_amdahl([1, 2, 4], [1.0, 1.5, 2.0])
    assert fit.b < 0 < fit.a
    assert fit.serial_fraction == 1.0
    assert fit.speedup_ceiling < 1
    assert "times grow with more cores: there is no speed-up to predict" in fit.warnings()
    report = analyse_results([result(1, 1, [1.0]), result(2, 1, [1.5])])
    assert fit_summary(report) == (
        "fit to the medians: T(p) = 2.000 - 1.000/p s: times grow with more cores, "
        "no serial fraction or ceiling to give"
    )


def test_two_points_fit_exactly_and_say_so():
    fit = fit_amdahl([1, 4], [10.0, 4.0])
    assert (fit.a, fit.b) == (pytest.approx(2.0), pytest.approx(8.0))
    assert fit.warnings() == ["the fit rests on two points only, so nothing checks it"]


def test_a_poor_fit_is_said_plainly():
    fit = fit_amdahl([1, 2, 3, 4], [10.0, 2.0, 9.0, 3.0])
    assert fit.r_squared < 0.9
    assert any("fits these points poorly" in w for w in fit.warnings())


# The scaling report


def test_karp_flatt_on_amdahl_data_is_the_serial_fraction():
    splits = [(1, 1), (1, 2), (2, 1), (2, 2), (1, 8), (4, 4)]
    report = analyse_scaling((t, e, PointStats.of([amdahl(0.1, 10.0, t * e)])) for t, e in splits)
    assert [p.cores for p in report.points] == [1, 2, 2, 4, 8, 16]
    for point in report.points:
        speedup = 1 / (0.1 + 0.9 / point.cores)
        assert point.speedup == pytest.approx(speedup, abs=1e-12)
        assert point.efficiency == pytest.approx(speedup / point.cores, abs=1e-12)
        if point.cores == 1:
            assert point.karp_flatt is None
        else:
            assert point.karp_flatt == pytest.approx(0.1, abs=1e-12)
    assert report.fit.serial_fraction == pytest.approx(0.1, abs=1e-6)
    assert report.fit.speedup_ceiling == pytest.approx(10.0, abs=1e-5)
    assert report.warnings() == []


def test_best_split_per_core_count_and_overall():
    report = analyse_scaling(
        [
            (1, 1, PointStats.of([8.0, 8.2, 7.9])),
            (1, 4, PointStats.of([3.0, 3.1])),
            (2, 2, PointStats.of([2.5, 2.6])),
            (4, 1, PointStats.of([2.8, 2.7])),
            (1, 8, PointStats.of([2.0, 2.1])),
        ]
    )
    assert list(report.best_per_cores) == [1, 4, 8]
    assert (report.best_per_cores[4].train, report.best_per_cores[4].eval) == (2, 2)
    assert (report.best.train, report.best.eval) == (1, 8)
    assert (report.points[1].train, report.points[1].speedup) == (1, pytest.approx(8.0 / 3.05))


def test_the_fit_follows_the_fastest_split_of_each_core_count():
    # Amdahl with serial fraction 0.2 at the best splits; a slow 2 x 1 beside them.
    best = [(1, 1, 1), (1, 2, 2), (1, 4, 4)]
    points = [(t, e, PointStats.of([amdahl(0.2, 10.0, p)])) for t, e, p in best]
    points.append((2, 1, PointStats.of([9.9])))
    report = analyse_scaling(points)
    assert report.fit.serial_fraction == pytest.approx(0.2, abs=1e-6)
    assert report.fit.n == 3


def test_without_a_one_core_point_there_is_no_speedup():
    report = analyse_scaling(
        [(1, 2, PointStats.of([6.0])), (2, 2, PointStats.of([4.0])), (4, 2, PointStats.of([3.0]))]
    )
    assert report.baseline is None
    assert all(p.speedup is p.efficiency is p.karp_flatt is None for p in report.points)
    assert report.fit.a == pytest.approx(2.0)  # 2 + 8/p fits all three exactly
    assert report.warnings()[0] == "no 1x1 point: speed-up and efficiency need a one-core baseline"


def test_a_single_core_count_gives_points_but_no_fit():
    report = analyse_scaling([(2, 2, PointStats.of([4.0])), (4, 1, PointStats.of([3.0]))])
    assert report.fit is None
    assert report.best_per_cores[4].train == 4
    assert "fewer than two core counts: there is no scaling curve to fit" in report.warnings()


def test_several_one_core_points_pool_into_one_baseline():
    report = analyse_scaling(
        [
            (1, 1, PointStats.of([1.0, 1.2])),
            (1, 1, PointStats.of([1.1])),
            (1, 2, PointStats.of([0.55])),
        ]
    )
    assert report.baseline.times == (1.0, 1.2, 1.1)
    assert report.baseline.median == 1.1
    assert report.points[2].speedup == pytest.approx(2.0)


def test_an_empty_report():
    report = analyse_scaling([])
    assert (report.points, report.baseline, report.fit, report.best) == ((), None, None, None)
    assert report.warnings() == []


def test_points_with_identical_repeats_do_not_dominate_the_fit():
    # Exact repeats give MAD 0; the sigma floor (1 % of the median) keeps their weight finite.
    report = analyse_scaling(
        [
            (1, 1, PointStats.of([10.0, 10.0])),
            (1, 2, PointStats.of([6.0, 6.0])),
            (1, 4, PointStats.of([5.0, 5.0])),
        ]
    )
    assert report.fit.a == pytest.approx(3.0, rel=0.2)


def test_results_keep_their_flags_and_report_exports_as_strict_json():
    report = analyse_results(
        [
            result(1, 1, [4.0, 4.1, 3.9]),
            result(2, 1, [2.2, 2.1, 2.3], flags=["noisy"]),
            result(2, 2, [1.3, 1.2, 1.25]),
        ]
    )
    assert report.points[1].warnings() == [NOISY]
    doc = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert [p["cores"] for p in doc["points"]] == [1, 2, 4]
    assert doc["points"][1]["warnings"] == [NOISY]
    assert doc["best"]["cores"] == 4
    assert doc["fit"]["serial_fraction"] == pytest.approx(report.fit.serial_fraction)
    assert [p["cores"] for p in doc["best_per_cores"]] == [1, 2, 4]


def test_results_of_different_tasks_are_refused():
    with pytest.raises(ValueError):
        analyse_results([result(1, 1, [1.0]), result(1, 2, [0.6], task="cv-eval")])


def test_stats_imports_only_the_standard_library():
    probe = "import sys, cpulab.engine.stats; print(' '.join(sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert not {"textual", "sklearn", "numpy", "scipy"} & set(loaded)


def test_a_report_reads_back_from_its_stored_form_as_it_was():
    # A grid with a split measured twice, and a point without a 1 x 1 baseline besides.
    points = [(1, 1, [1.0, 1.1, 0.9]), (2, 1, [0.6, 0.55, 0.7]), (1, 2, [0.58, 0.6, 0.61]),
              (2, 2, [0.4, 0.41, 0.9]), (2, 2, [0.38, 0.39, 0.37])]  # fmt: skip
    for entries in (points, points[1:]):
        report = analyse_scaling((t, e, PointStats.of(times)) for t, e, times in entries)
        stored = json.loads(json.dumps(report.to_dict()))
        again = ScalingReport.from_dict(stored)
        assert again.to_dict() == report.to_dict()
        assert again.best is not None and again.best in again.points
        assert all(p in again.points for p in again.best_per_cores.values())
