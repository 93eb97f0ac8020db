import pytest

from cpulab.engine.events import (
    Cancelled,
    Error,
    EventError,
    Phase,
    Progress,
    Result,
    Started,
    parse_event,
)

RESULT = Result(
    task="cv-eval",
    title="Repeated k-fold evaluation",
    scale="small",
    train=1,
    eval=2,
    available=2,
    fit_times=[0.3, 0.1, 0.2],
    warmup_times=[0.5],
    setup={"imports": 0.8, "data": 0.01, "workers": 1.2},
    cpu_time=0.55,
    peak_rss=300 << 20,
    score=0.81,
    metric="accuracy",
    details={"folds": 10},
    flags=[],
    machine={"cpu_model": "x"},
)


@pytest.mark.parametrize(
    "event",
    [
        Started(pid=10, pgid=10, t=1.5),
        Phase(name="fit", t=2.0, repeat=3),
        Progress(done=4, total=30, unit="folds", t=2.5),
        RESULT,
        Error(type="ValueError", message="bad", traceback="tb", exit_status=1, stderr_tail=""),
        Cancelled(seconds=0.4),
    ],
)
def test_events_round_trip_through_json(event):
    assert parse_event(event.to_json()) == event
    assert parse_event(event.to_json().encode()) == event


def test_result_derived_figures():
    assert RESULT.fit_time == 0.2
    assert RESULT.cores_used == 2
    summary = RESULT.summary()
    assert (summary["fit_min"], summary["fit_max"]) == (0.1, 0.3)


def test_unknown_fields_are_ignored_for_forward_compatibility():
    event = parse_event('{"event": "started", "pid": 1, "pgid": 1, "t": 0, "host": "x"}')
    assert event == Started(pid=1, pgid=1, t=0)


@pytest.mark.parametrize(
    "line",
    [
        "",
        "hello",
        "[1, 2]",
        '{"pid": 1}',
        '{"event": "teleported"}',
        '{"event": "started", "pid": 1}',
        '{"event": "phase", "nme": "fit", "t": 1}',
        b"\xff\xfe",
        '{"event": "started", "pid": 1, "pgid": 1, "t": 0',
    ],
)
def test_garbage_is_an_event_error(line):
    with pytest.raises(EventError):
        parse_event(line)


def test_phase_titles_read_as_words():
    assert Phase(name="workers", t=0).title == "starting workers"


@pytest.mark.parametrize(
    "line",
    [
        '{"event": "started", "pid": "ten", "pgid": 1, "t": 0}',
        '{"event": "started", "pid": true, "pgid": 1, "t": 0}',
        '{"event": "progress", "done": 1, "total": "all", "unit": "folds", "t": 0}',
        '{"event": "phase", "name": "fit", "t": 0, "repeat": 1.5}',
    ],
)
def test_wrongly_typed_fields_are_event_errors(line):
    with pytest.raises(EventError, match="bad"):
        parse_event(line)


def test_result_without_times_is_an_event_error():
    import json

    data = json.loads(RESULT.to_json())
    data["fit_times"] = []
    with pytest.raises(EventError, match="measured time"):
        parse_event(json.dumps(data))
    data["fit_times"] = [0.1, "slow"]
    with pytest.raises(EventError, match="fit_times"):
        parse_event(json.dumps(data))


def test_optional_fields_take_null():
    assert parse_event('{"event":"progress","done":1,"total":null,"unit":"x","t":0}').total is None


def test_an_error_of_several_lines_is_said_in_its_first():
    report = "\nAll the 3 fits failed.\nIt is very likely that your model is misconfigured.\n"
    assert Error(type="ValueError", message=report).one_line() == (
        "ValueError: All the 3 fits failed. ..."
    )
    assert Error(type="ValueError", message="bad").one_line() == "ValueError: bad"
    assert Error(type="KeyboardInterrupt", message="").one_line() == "KeyboardInterrupt"
    assert Error(type="UsageError", message="no such file").one_line() == "no such file"


def test_the_cause_under_a_failure_is_its_tracebacks_last_line_or_a_dead_runners_stderr():
    from cpulab.ui.widgets.run_status import error_cause

    printed = "loading my data\na warning of mine\n"
    chained = "Traceback (most recent call last):\n  ...\nValueError: the fold's own error"
    failed = Error(type="ValueError", message="all fits failed", traceback=chained)
    assert error_cause(failed) == "ValueError: the fold's own error"
    # What the task printed is no cause, where there is a traceback.
    raised = "Traceback (most recent call last):\n  ...\nValueError: broken"
    said = Error(type="ValueError", message="broken", traceback=raised, stderr_tail=printed)
    assert error_cause(said) is None
    died = Error(type="ChildDied", message="killed by SIGKILL", stderr_tail="Out of memory\n")
    assert error_cause(died) == "Out of memory"
