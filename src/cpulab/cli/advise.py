"""`cpulab advise`: which split of how many cores to use, found within a time budget.

The search (engine.advise, run by engine.advise_runs) asks for batches of settings; each is
measured here by runner children with the live view on stderr, and stored as a sweep; the
advice itself is stored too, and printed (or written as one JSON document).

Ctrl-C, SIGTERM or SIGHUP during a batch stop it as they stop any run; between two batches
they stop the search before the next. Either way the advice is the best so far, stored.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
from collections.abc import Iterator

from cpulab.cli.outcome import exit_status, refuse_bad_input, stop_record, warn_not_saved
from cpulab.cli.parser import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    advice_request_from_args,
    one_line,
)
from cpulab.cli.render import report_stop, run_in_terminal
from cpulab.engine.advise import BUDGET, SETTLED
from cpulab.engine.advise_runs import AdviceOutcome, RunnerMeasurer, run_advice
from cpulab.engine.errors import INTERRUPTING_SIGNALS, UsageError
from cpulab.engine.store import ResultStore


def cmd_advise(args: argparse.Namespace) -> int:
    request, plan = advice_request_from_args(args)
    quiet = args.json

    def say(step: str) -> None:
        if not quiet:
            print(f"advise: {step}", file=sys.stderr)

    with ResultStore.open(args.db) as store:
        measurer = RunnerMeasurer(
            plan.task,
            plan.scale,
            plan.options,
            plan.available,
            request.budget,
            lambda session: run_in_terminal(session, quiet=quiet),
            store=store,
            warmup=plan.warmup,
            catalogue=plan.catalogue,
            on_store_problem=warn_not_saved,
        )
        with _stopping_between_batches(measurer):
            ended = run_advice(request, measurer, say)
    if ended.batch is not None:
        refuse_bad_input(ended.batch)  # a data file only the runner could read
    if ended.advice is None:
        if ended.batch is None and ended.status == BUDGET:
            raise UsageError(f"{ended.problem} (--budget 2m, say)")
        if args.json:
            error = stop_record(ended.batch) if ended.batch else {"status": ended.status}
            print(json.dumps({"id": None, "error": error}, indent=2))
        else:
            _report(ended, measurer)
        return _exit_status(ended, measurer)
    record = {**ended.advice.to_dict(), "sweeps": measurer.sweeps}
    if args.json:
        print(json.dumps({"id": ended.advice_id, "task": plan.task.name, "scale": plan.scale,
                          "variant": plan.options.variant, **record},
                         indent=2, allow_nan=False))  # fmt: skip
    else:
        variant = f" [{plan.options.variant}]" if plan.options.variant else ""
        stored = f", advice #{ended.advice_id}" if ended.advice_id is not None else ""
        print(f"{plan.task.title} ({plan.scale}){variant}{stored}")
        for line in ended.advice.lines():
            print(line)
    if ended.store_problem is not None:
        print(
            f"cpulab: warning: advice not saved: {one_line(ended.store_problem)}", file=sys.stderr
        )
    if ended.status not in (SETTLED, BUDGET):
        _report(ended, measurer)
    return _exit_status(ended, measurer)


@contextlib.contextmanager
def _stopping_between_batches(measurer: RunnerMeasurer) -> Iterator[None]:
    """Ctrl-C and the interrupting signals, between two batches, stop the search before the
    next one (during a batch, the session's own handlers stop that batch)."""
    statuses = {signal.SIGINT: "cancelled", **dict.fromkeys(INTERRUPTING_SIGNALS, "interrupted")}
    before = {signum: signal.getsignal(signum) for signum in statuses}

    def stop(signum: int, _frame: object) -> None:
        measurer.stop(statuses[signal.Signals(signum)], signum)

    for signum in statuses:
        signal.signal(signum, stop)
    try:
        yield
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)


def _report(ended: AdviceOutcome, measurer: RunnerMeasurer) -> None:
    if ended.batch is not None:
        report_stop(ended.batch)
    elif ended.status == "interrupted" and measurer.signal is not None:
        print(f"cpulab: interrupted by {signal.Signals(measurer.signal).name}", file=sys.stderr)
    else:
        print(f"cpulab: {ended.status}", file=sys.stderr)


def _exit_status(ended: AdviceOutcome, measurer: RunnerMeasurer) -> int:
    """As `cpulab sweep` exits: 0 advised and stored, 1 failed or not stored, 130 cancelled,
    128 + N interrupted by signal N."""
    if ended.batch is not None and ended.status not in (SETTLED, BUDGET):
        return exit_status(ended.batch)
    if ended.status == "cancelled":
        return EXIT_INTERRUPTED
    if ended.status == "interrupted" and measurer.signal is not None:
        return 128 + measurer.signal
    if ended.status in (SETTLED, BUDGET) and ended.advice_id is not None:
        return EXIT_OK
    return EXIT_FAILED
