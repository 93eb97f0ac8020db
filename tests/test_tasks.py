import pytest

from cpulab.engine.cores import CoreSplit
from cpulab.engine.errors import UsageError
from cpulab.engine.spec import RunSpec
from cpulab.engine.tasks import CATALOGUE, check_scale, get_task


def test_catalogue_holds_the_five_seed_tasks_and_compare_classifiers():
    assert list(CATALOGUE) == [
        "rf-train",
        "cv-eval",
        "grid-search",
        "compare-regressors",
        "compare-classifiers",
        "digits-svc",
    ]
    for task in CATALOGUE.values():
        assert task.title and task.description and task.metric
        assert task.knobs and task.knobs <= {"train", "eval"}
        assert ":" in task.builder


def test_unknown_task_and_scale():
    with pytest.raises(UsageError, match="unknown task 'nope'"):
        get_task("nope")
    with pytest.raises(UsageError, match="unknown scale"):
        check_scale("huge")


def test_a_knob_the_task_ignores_must_stay_at_one():
    split = CoreSplit.resolve(1, 2, available=4)
    with pytest.raises(UsageError, match="rf-train has no evaluation cores knob"):
        RunSpec.for_task(get_task("rf-train"), split)
    with pytest.raises(UsageError, match="digits-svc has no training cores knob"):
        RunSpec.for_task(get_task("digits-svc"), CoreSplit.resolve(2, 1, available=4))


def test_spec_round_trips_and_validates_counts():
    split = CoreSplit.resolve(2, 3, available=4)
    spec = RunSpec.for_task(get_task("cv-eval"), split, "full", repeats=3, warmup=1)
    assert RunSpec.from_dict(spec.to_dict()) == spec
    assert (spec.train, spec.eval, spec.available) == (2, 3, 4)
    with pytest.raises(UsageError, match="repeats"):
        RunSpec.for_task(get_task("cv-eval"), split, repeats=0)
    with pytest.raises(UsageError, match="warm-up"):
        RunSpec.for_task(get_task("cv-eval"), split, warmup=-1)
