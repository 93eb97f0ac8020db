"""What the command line makes of a session's outcome: its exit status, the bad input
only the runner could find, and how --json reports a stop."""

from __future__ import annotations

import sys
from typing import Any

from cpulab.cli.parser import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, one_line
from cpulab.engine.errors import UsageError
from cpulab.engine.session import Outcome, Session
from cpulab.engine.spec import RunSpec
from cpulab.engine.store import ResultStore
from cpulab.engine.sweep import SweepPlan


def session_for(request: RunSpec | SweepPlan, store: ResultStore) -> Session:
    """A session that stores into `store`, and warns on stderr when it cannot."""
    return Session(request, store=store, on_store_problem=warn_not_saved)


def warn_not_saved(text: str) -> None:
    print(f"cpulab: warning: not saved: {one_line(text)}", file=sys.stderr)


def exit_status(outcome: Outcome) -> int:
    """0 done, 1 failed or not saved, 130 cancelled (as for Ctrl-C), 128 + N interrupted by
    signal N."""
    if outcome.status == "done":
        return EXIT_FAILED if outcome.store_problems else EXIT_OK
    if outcome.status == "interrupted" and outcome.signal is not None:
        return 128 + outcome.signal
    if outcome.status == "cancelled":
        return EXIT_INTERRUPTED
    return EXIT_FAILED


def refuse_bad_input(outcome: Outcome) -> None:
    """Input only the runner could check (the rows of a data file, a Dask scheduler) is
    bad input all the same: one line and exit status 2, like the checks made here."""
    if outcome.status == "refused" and outcome.error is not None:
        raise UsageError(outcome.error.message)


def stop_record(outcome: Outcome) -> dict[str, Any]:
    """How --json reports a session that ended without its last result: how it ended, and
    the last event (an Error, or Cancelled) where there was one."""
    record: dict[str, Any] = {
        "status": outcome.status,
        "signal": outcome.signal_name,
        "partial": [point.summary() for point in outcome.partial],
    }
    if outcome.final is not None:
        record.update(event=outcome.final.kind, **vars(outcome.final))
    return record
