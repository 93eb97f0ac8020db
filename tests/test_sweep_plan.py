import pytest

from cpulab.engine.errors import UsageError
from cpulab.engine.sweep import SweepPlan, parse_cores, splits_for
from cpulab.engine.tasks import CATALOGUE


@pytest.mark.parametrize(
    ("text", "available", "expected"),
    [
        ("1,2,4", 8, (1, 2, 4)),
        ("4, 2,1,2", 8, (1, 2, 4)),
        ("1-4", 8, (1, 2, 3, 4)),
        ("1,6-8", 8, (1, 6, 7, 8)),
        ("pow2", 8, (1, 2, 4, 8)),
        ("pow2", 6, (1, 2, 4, 6)),
        ("POW2", 1, (1,)),
        ("pow2", 256, (1, 2, 4, 8, 16, 32, 64, 128, 256)),
        ("16", 2, (16,)),  # beyond the machine: allowed, flagged oversubscribed per point
    ],
)
def test_parse_cores(text, available, expected):
    assert parse_cores(text, available) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0", "start at 1"),
        ("3-1", "runs backwards"),
        ("x", "cannot read core count 'x'"),
        ("1,,2", "cannot read"),
        ("-1", "cannot read"),
        ("1.5", "cannot read"),
        ("1-99999", "beyond any machine"),
        ("pow2,1", "pow2 stands alone, not in a list: use pow2, or list the counts"),
    ],
)
def test_bad_cores(text, message):
    with pytest.raises(UsageError, match=message):
        parse_cores(text, 8)


def test_strategies_split_the_cores():
    cv = CATALOGUE["cv-eval"]
    assert splits_for(cv, "eval", 4) == [(1, 4)]
    assert splits_for(cv, "train", 4) == [(4, 1)]
    assert splits_for(cv, "grid", 4) == [(1, 4), (2, 2), (4, 1)]
    assert splits_for(cv, "grid", 1) == [(1, 1)]


def test_single_knob_tasks_keep_to_their_knob():
    rf = CATALOGUE["rf-train"]
    assert splits_for(rf, "grid", 4) == [(4, 1)]
    with pytest.raises(UsageError, match="rf-train has no evaluation cores knob"):
        splits_for(rf, "eval", 2)
    with pytest.raises(UsageError, match="unknown strategy 'foo'"):
        splits_for(rf, "foo", 2)


def test_plan_builds_validated_points():
    plan = SweepPlan(
        task=CATALOGUE["grid-search"],
        scale="small",
        strategy="grid",
        cores=(1, 2),
        repeats=3,
        warmup=1,
        available=2,
    )
    spec = plan.spec()
    assert [(p.train, p.eval) for p in spec.points] == [(1, 1), (1, 2), (2, 1)]
    assert {p.repeats for p in spec.points} == {3}
    assert spec.strategy == "grid" and spec.cores == (1, 2)
