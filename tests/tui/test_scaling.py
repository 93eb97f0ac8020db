"""Speedups and chart series, from finished results."""

from cpulab.engine.stats import analyse_results
from cpulab.engine.tasks import CATALOGUE
from cpulab.ui.scaling import Entry, as_entries, scaling_series, speedups
from support.tui import make_result


def speedup(result, results) -> float | None:
    """The speedup of `result` among `results`, all runs of this session."""
    entries = as_entries(results)
    mine = next((e for e in entries if e.result is result), None)
    found = speedups(entries).get(id(mine)) if mine is not None else None
    return None if found is None else found.value


def test_speedup_is_against_the_latest_1x1_up_to_the_run_of_the_same_task_and_scale():
    base = make_result("cv-eval", 1, 1, 4.0)
    rerun = make_result("cv-eval", 1, 1, 2.0)
    full = make_result("cv-eval", 1, 1, 40.0, scale="full")
    point = make_result("cv-eval", 1, 2, 1.0)
    after = make_result("cv-eval", 1, 2, 0.5)
    results = [base, point, full, rerun, after]
    assert speedup(point, results) == 4.0  # a later 1 x 1 changes no speedup
    assert speedup(after, results) == 4.0  # 2.0 / 0.5: the rerun came before it
    assert speedup(base, results) == speedup(rerun, results) == 1.0  # each its own
    assert speedup(point, [point]) is None


def test_runs_before_any_1x1_are_measured_against_the_first_one_after_them():
    early = make_result("rf-train", 2, 1, 1.5)
    first = make_result("rf-train", 1, 1, 3.0)
    second = make_result("rf-train", 1, 1, 6.0)
    assert speedup(early, [early, first, second]) == 2.0


def test_the_chart_measures_each_curve_against_its_latest_1x1_as_its_fit_is():
    results = [
        make_result("cv-eval", 1, 2, 1.0),
        make_result("cv-eval", 1, 1, 3.0),
        make_result("cv-eval", 2, 2, 1.0),
        make_result("cv-eval", 1, 1, 2.0),  # the curve's 1 x 1 from here on
    ]
    [eval_cores, mixed] = scaling_series(results, as_speedup=True, tasks=CATALOGUE)
    assert eval_cores.points == ((1, 1.0), (2, 2.0)) and eval_cores.base_time == 2.0
    assert mixed.points == ((1, 1.0), (4, 2.0))
    # The table keeps the speedup the 1 x 2 had when it ran: against the 1 x 1 after it.
    assert speedup(results[0], results) == 3.0


def test_each_strategy_is_a_series_starting_at_the_1x1_point():
    results = [
        make_result("cv-eval", 1, 1, 4.0),
        make_result("cv-eval", 1, 2, 2.0),
        make_result("cv-eval", 2, 1, 3.0),
        make_result("cv-eval", 2, 2, 1.6),
        make_result("rf-train", 2, 1, 1.0),
    ]
    series = {s.label: s.points for s in scaling_series(results, as_speedup=False, tasks=CATALOGUE)}
    assert series == {
        "cv-eval eval-cores": ((1, 4.0), (2, 2.0)),
        "cv-eval train-cores": ((1, 4.0), (2, 3.0)),
        "cv-eval mixed": ((1, 4.0), (4, 1.6)),
        "rf-train": ((2, 1.0),),  # one knob: the strategy goes without saying
    }


def test_speedup_series_leave_out_tasks_without_a_baseline():
    results = [
        make_result("cv-eval", 1, 1, 4.0, scale="full"),
        make_result("cv-eval", 1, 2, 2.0, scale="full"),
        make_result("rf-train", 2, 1, 1.0),
    ]
    series = scaling_series(results, as_speedup=True, tasks=CATALOGUE)
    assert [(s.label, s.points) for s in series] == [
        ("cv-eval eval-cores (full)", ((1, 1.0), (2, 2.0)))
    ]


def test_a_lone_1x1_point_is_a_series_of_its_own():
    series = scaling_series(
        [make_result("digits-svc", 1, 1, 3.0)], as_speedup=True, tasks=CATALOGUE
    )
    assert [(s.label, s.points) for s in series] == [("digits-svc", ((1, 1.0),))]


def test_results_on_other_data_or_options_never_share_a_baseline():
    def on(path: str, drop: list[str], backend: str = "loky", variant: str = "x.csv:y"):
        data = {"path": path, "target": "y", "drop": drop, "kind": None}
        return {"variant": variant, "options": {"data": data, "backend": backend}}

    base = make_result("cv-eval", 1, 1, 4.0, **on("/a/x.csv", []))
    same = make_result("cv-eval", 1, 2, 2.0, **on("/a/x.csv", []))
    other_dir = make_result("cv-eval", 1, 2, 1.0, **on("/b/x.csv", []))
    other_drop = make_result("cv-eval", 1, 2, 1.0, **on("/a/x.csv", ["id"]))
    threads = make_result("cv-eval", 1, 2, 1.0, variant="threading")
    results = [base, same, other_dir, other_drop, threads]
    assert speedup(same, results) == 2.0
    assert [speedup(r, results) for r in (other_dir, other_drop, threads)] == [None] * 3
    assert len(scaling_series(results, as_speedup=False, tasks=CATALOGUE)) == 4


def test_a_plug_in_task_is_labelled_by_its_own_knobs():
    from dataclasses import replace

    own = replace(CATALOGUE["rf-train"], name="my-forest", origin="task file my_forest.py")
    results = [make_result("my-forest", 1, 1, 4.0), make_result("my-forest", 2, 1, 2.0)]
    with_it = {s.label for s in scaling_series(results, False, tasks={**CATALOGUE, own.name: own})}
    without = {s.label for s in scaling_series(results, False, tasks=CATALOGUE)}
    assert with_it == {"my-forest"}  # one knob: no strategy to tell apart
    assert without == {"my-forest train-cores"}  # unknown task: both knobs assumed


# One definition of speedup for both faces.


def test_a_sweep_is_measured_against_its_own_1x1_not_the_latest_one():
    sweep = [
        Entry(
            make_result("cv-eval", 1, 1, t * 4.0, fit_times=[t * 4.0, t * 4.2, t * 3.9]), sweep="7"
        )
        for t in (1,)
    ] + [Entry(make_result("cv-eval", 1, 2, 2.5, fit_times=[2.5, 2.6, 2.4]), sweep="7")]
    # A later, quicker 1 x 1 run outside the sweep does not change the sweep's speedups.
    later = Entry(make_result("cv-eval", 1, 1, 1.0))
    found = speedups([*sweep, later])
    report = analyse_results(e.result for e in sweep)  # what `cpulab sweep` reports
    assert found[id(sweep[1])].value == report.points[1].speedup == 4.0 / 2.5
    assert found[id(sweep[1])].baseline is sweep[0]
    assert found[id(later)].value == 1.0 and found[id(later)].baseline is later


def test_each_1x1_of_a_sweep_that_measured_it_twice_is_1x_against_itself():
    first, second = (Entry(make_result("cv-eval", 1, 1, t), sweep="advice 1") for t in (0.5, 0.4))
    point = Entry(make_result("cv-eval", 1, 2, 0.2), sweep="advice 1")
    found = speedups([first, point, second])
    assert found[id(first)].value == 1.0 and found[id(first)].baseline is first
    assert found[id(second)].value == 1.0
    assert found[id(point)].value == 2.0 and found[id(point)].baseline is second


def test_an_advice_searchs_batches_are_one_curve_but_each_its_own_sweeps_baseline():
    """As `cpulab export` has them: a batch's points against its own 1 x 1; a batch
    without one (the splits of a core count) has no speedup."""

    def batch(key, *points):
        return [Entry(make_result("cv-eval", t, e, s), sweep="advice 1", batch=str(key))
                for t, e, s in points]  # fmt: skip

    first = batch(4, (1, 1, 0.5), (1, 2, 0.25))
    splits = batch("app 5", (2, 1, 0.4))  # one the store did not take is a sweep as much
    final = batch(6, (1, 1, 0.4), (1, 2, 0.25))
    found = speedups([*first, *splits, *final])
    assert found[id(first[1])].value == 2.0 and found[id(first[1])].baseline is first[0]
    assert id(splits[0]) not in found
    assert found[id(final[1])].value == 1.6 and found[id(final[1])].baseline is final[0]
    labels = [line.label for line in scaling_series([*first, *splits, *final], False, CATALOGUE)]
    # One curve of the search per strategy, not one per batch.
    assert labels == ["cv-eval train-cores · advice 1", "cv-eval eval-cores · advice 1"]


def test_runs_outside_a_sweep_use_the_latest_1x1_of_their_own_session():
    earlier_base = Entry(make_result("rf-train", 1, 1, 4.0), this_session=False)
    earlier = Entry(make_result("rf-train", 2, 1, 2.0), this_session=False)
    now_base = Entry(make_result("rf-train", 1, 1, 3.0))
    now = Entry(make_result("rf-train", 2, 1, 2.0))
    found = speedups([earlier_base, earlier, now_base, now])
    assert found[id(earlier)].value == 2.0
    assert found[id(now)].value == 1.5
    alone = Entry(make_result("rf-train", 4, 1, 1.0))  # this session, no 1 x 1 of its own
    assert id(alone) not in speedups([earlier_base, alone])


def test_runs_of_this_session_and_earlier_ones_of_one_curve_are_named_apart():
    earlier = [
        Entry(make_result("cv-eval", t, 1, s), this_session=False) for t, s in ((1, 2.0), (2, 1.5))
    ]
    now = [Entry(make_result("cv-eval", t, 1, s)) for t, s in ((1, 1.9), (2, 1.4))]
    labels = [line.label for line in scaling_series([*earlier, *now], False, CATALOGUE)]
    assert labels == ["cv-eval train-cores · earlier", "cv-eval train-cores · this session"]
    # Alone, either is named as before.
    assert [line.label for line in scaling_series(now, False, CATALOGUE)] == ["cv-eval train-cores"]


def test_a_noisy_or_spread_baseline_is_called_out():
    base = Entry(make_result("rf-train", 1, 1, 2.0, flags=["noisy"]))
    point = Entry(make_result("rf-train", 2, 1, 1.0))
    (caveat,) = speedups([base, point])[id(point)].caveats
    assert "other processes" in caveat
    clean = Entry(make_result("rf-train", 1, 1, 2.0))
    assert speedups([clean, point])[id(point)].caveats == []


def test_each_sweep_is_a_series_of_its_own_named_by_its_number():
    entries = [
        Entry(make_result("cv-eval", t, 1, 4.0 / t), sweep=sweep)
        for sweep in ("3", "9")
        for t in (1, 2)
    ]
    series = scaling_series(entries, as_speedup=False, tasks=CATALOGUE)
    assert [s.label for s in series] == [
        "cv-eval train-cores · sweep 3",
        "cv-eval train-cores · sweep 9",
    ]
