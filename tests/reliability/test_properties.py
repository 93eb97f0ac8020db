"""Properties, over inputs nobody would think to write down.

The event parser: any line, and any garbled or truncated form of a real event line, is an
event or an EventError, never anything else; through a real supervisor, a child printing
such a line ends its run with an error event. The command line: any argument list is
either accepted, or refused with one line and exit status 2; core lists and n_jobs values
parse exactly as documented.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import sys
from unittest import mock

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cpulab import cli
from cpulab.cli import parser
from cpulab.engine.cores import resolve_n_jobs
from cpulab.engine.errors import UsageError
from cpulab.engine.events import (
    Cancelled,
    Error,
    Event,
    EventError,
    Phase,
    Progress,
    Result,
    Started,
    parse_event,
)
from cpulab.engine.supervisor import Supervisor
from cpulab.engine.sweep import MAX_SWEEP_CORES, parse_cores
from cpulab.engine.tasks import CATALOGUE
from support.runs import alive, collect, spec_for

# Deterministic (the same examples on every run) and free of wall-clock deadlines, which a
# loaded two-core machine would trip; no example database left in the checkout.
PROPERTY = settings(derandomize=True, deadline=None, database=None)

seconds = st.floats(min_value=0, max_value=1e6, allow_nan=False)
words = st.text(max_size=20)
EVENTS = st.one_of(
    st.builds(Started, pid=st.integers(1, 2**22), pgid=st.integers(1, 2**22), t=seconds),
    st.builds(Phase, name=words, t=seconds, repeat=st.none() | st.integers(1, 99)),
    st.builds(
        Progress,
        done=st.integers(0, 999),
        total=st.none() | st.integers(0, 999),
        unit=words,
        t=seconds,
    ),
    st.builds(Error, type=words, message=words, traceback=words),
    st.builds(
        Result,
        task=words,
        title=words,
        scale=words,
        train=st.integers(1, 8),
        eval=st.integers(1, 8),
        available=st.integers(1, 8),
        fit_times=st.lists(seconds, min_size=1, max_size=3),
        warmup_times=st.lists(seconds, max_size=2),
        setup=st.dictionaries(words, seconds),
        cpu_time=seconds,
        peak_rss=st.integers(0, 2**40),
        score=st.none() | seconds,
        metric=words,
    ),
)


@st.composite
def garbled_lines(draw) -> tuple[bytes, bool]:
    """A real event line, cut short or with bytes changed, still one line and not empty;
    True when it was cut short."""
    line = draw(EVENTS).to_json().encode()
    if draw(st.booleans()):
        return line[: draw(st.integers(1, len(line) - 1))], True
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(line) - 1))
        line = line[:at] + draw(st.binary(max_size=3)).replace(b"\n", b"") + line[at + 1 :]
    return line or b"?", False


@PROPERTY
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
@example("[" * 100_000)  # deeper than Python's recursion limit
@example(b'{"event": "started", "pid": 1, "pgid": 1, "t": NaN}')
@example('{"event": "phase", "name": "fit", "t": 1e999}')
@example('{"event": "progress", "done": ' + "9" * 5000 + ', "total": 1, "unit": "x", "t": 0}')
def test_any_line_is_an_event_or_an_event_error(line):
    with contextlib.suppress(EventError):
        assert isinstance(parse_event(line), Event)


@PROPERTY
@given(EVENTS)
def test_every_event_survives_its_json_line(event):
    assert parse_event(event.to_json()) == event


@PROPERTY
@given(garbled_lines())
def test_a_garbled_or_truncated_event_line_is_an_event_or_an_event_error(garbled):
    line, truncated = garbled
    if truncated:  # a JSON object cut short never closes
        with pytest.raises(EventError):
            parse_event(line)
    else:
        with contextlib.suppress(EventError):
            assert isinstance(parse_event(line), Event)


# The child writes the started line, then the garbled one (with or without its newline),
# and exits, as a runner killed in the middle of a write would.
FAKE_CHILD = (
    "import os, sys\n"
    'os.write(1, b\'{"event":"started","pid":1,"pgid":1,"t":0}\\n\')\n'
    "os.write(1, bytes.fromhex(sys.argv[1]))\n"
)


@settings(PROPERTY, max_examples=25)
@given(garbled_lines(), st.booleans())
@example((b"[" * 5000, False), True)  # too deep for json to read
def test_a_child_printing_a_garbled_line_ends_its_run_with_an_error(garbled, newline):
    line, _ = garbled
    line += b"\n" if newline else b""
    command = [sys.executable, "-I", "-S", "-c", FAKE_CHILD, line.hex()]
    handle = None

    async def run() -> list[Event]:
        nonlocal handle
        handle = await Supervisor(command=command).start(spec_for("rf-train"))
        return await asyncio.wait_for(collect(handle), 30)

    events = asyncio.run(run())
    assert isinstance(events[0], Started)
    final = events[-1]
    try:
        event = parse_event(line)
    except EventError:
        assert isinstance(final, Error) and final.type == "ProtocolError", final
    else:  # garbled into another valid event: the run ends as that event says, or early
        if isinstance(event, Result | Cancelled):
            assert final == event
        elif isinstance(event, Error):  # the supervisor adds the exit status
            assert isinstance(final, Error)
            assert (final.type, final.message) == (event.type, event.message)
        else:
            assert isinstance(final, Error) and final.type == "ChildDied", final
    assert not alive({handle.pid})


# The command line, with the commands that would run or write something replaced by the
# checks they make first: every argument is validated, nothing runs.


def _run(args) -> int:
    parser.spec_from_args(args)
    return parser.EXIT_OK


def _sweep(args) -> int:
    parser.plan_from_args(args).spec()
    return parser.EXIT_OK


def _listing(args) -> int:
    parser.machine_filter(args.machine)
    return parser.EXIT_OK


CHECKS_ONLY = {"run": _run, "sweep": _sweep, "history": _listing, "export": _listing}
TOKENS = st.sampled_from(
    [
        *("tasks", "run", "sweep", "history", "export", *CATALOGUE),
        *("--train", "--eval", "--scale", "--repeats", "--warmup", "--json", "--cores"),
        *("--strategy", "--format", "--out", "--task", "--machine", "--db", "--theme"),
        *("--sample-hz", "--version", "-h", "--", "-", "="),
        *("0", "1", "2", "-1", "-2", "-99", "1.5", "pow2", "1-4", "4-1", "1,2", "small", "full"),
        *("eval", "train", "grid", "json", "csv", "markdown", "nord", "nan", "10", "99999999"),
    ]
)


@settings(PROPERTY, max_examples=300)
@given(st.lists(TOKENS | st.text(max_size=12), max_size=8))
@example(["run", "rf-train", "--x\ny"])  # an unknown option holding a line break
@example(["sweep", "rf-train", "--cores", "1-4096", "--strategy", "grid"])
def test_any_arguments_are_accepted_or_refused_in_one_line(argv):
    out, err = io.StringIO(), io.StringIO()
    with (
        mock.patch.dict(cli.COMMANDS, CHECKS_ONLY),
        mock.patch.object(cli, "cmd_demo", lambda args: parser.EXIT_OK),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        try:
            status = cli.main(argv)
        except SystemExit as exc:  # argparse: --help, --version, or a refusal
            status = exc.code
    if status == parser.EXIT_USAGE:
        assert err.getvalue().count("\n") == 1 and err.getvalue().endswith("\n"), err.getvalue()
        assert err.getvalue().startswith("cpulab")
    else:
        assert status == parser.EXIT_OK and err.getvalue() == "", err.getvalue()


@PROPERTY
@given(st.lists(st.tuples(st.integers(1, 300), st.integers(0, 300)), min_size=1, max_size=5))
def test_core_lists_and_ranges_parse_to_exactly_their_counts(ranges):
    text = ",".join(f"{low}-{low + span}" if span else str(low) for low, span in ranges)
    expected = sorted({p for low, span in ranges for p in range(low, low + span + 1)})
    assert list(parse_cores(text, available=8)) == expected


@PROPERTY
@given(st.text(max_size=20), st.integers(1, 512))
@example("pow2", 6)
def test_any_core_text_parses_to_sorted_counts_or_a_usage_error(text, available):
    try:
        counts = parse_cores(text, available)
    except UsageError:
        return
    assert counts and list(counts) == sorted(set(counts))
    assert counts[0] >= 1 and counts[-1] <= max(available, MAX_SWEEP_CORES)


@PROPERTY
@given(st.integers(-600, 600) | st.text(max_size=6), st.integers(1, 512))
def test_n_jobs_resolves_as_joblib_counts_or_is_refused(value, available):
    try:
        number = int(value.strip()) if isinstance(value, str) else value
    except ValueError:
        number = None
    try:
        resolved = resolve_n_jobs(value, available)
    except UsageError:
        assert number is None or number == 0 or available + 1 + number < 1
        return
    assert resolved == (number if number > 0 else available + 1 + number)
