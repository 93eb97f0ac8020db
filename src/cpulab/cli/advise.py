"""`cpulab advise`: which split of how many cores to use, found within a time budget.

The search (engine.advise) asks for batches of settings; each is measured here by runner
children with the live view on stderr, and stored as a sweep; the advice itself is stored
too, and printed (or written as one JSON document).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace

from cpulab.cli.outcome import exit_status, refuse_bad_input, stop_record, warn_not_saved
from cpulab.cli.parser import EXIT_FAILED, EXIT_OK, advice_request_from_args, one_line
from cpulab.cli.render import report_stop, run_in_terminal
from cpulab.engine.advise import BudgetExhausted, advise
from cpulab.engine.advise_runs import RunnerMeasurer
from cpulab.engine.errors import UsageError
from cpulab.engine.machine import machine_facts
from cpulab.engine.session import STORE_ERRORS
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
        try:
            advice = advise(request, measurer, on_step=say)
        except BudgetExhausted:  # not one run measured
            if measurer.stopped is None or measurer.stopped.outcome is None:
                raise UsageError(
                    f"the budget of {request.budget:g} s ended before the first run did: "
                    "give more (--budget 2m, say)"
                ) from None
            outcome = measurer.stopped.outcome
            refuse_bad_input(outcome)
            if args.json:
                print(json.dumps({"id": None, "error": stop_record(outcome)}, indent=2))
            else:
                report_stop(outcome)
            return exit_status(outcome)
        # The user's stop or a failure, not the budget; the CLI's come with their batch.
        stopped = measurer.stopped.outcome if measurer.stopped is not None else None
        if stopped is not None:
            refuse_bad_input(stopped)
            advice = replace(advice, stopped=stopped.status)
        record = {**advice.to_dict(), "sweeps": measurer.sweeps}
        try:
            advice_id: int | None = store.add_advice(
                plan.task.name,
                plan.scale,
                plan.options.variant,
                advice.stopped,
                machine_facts(),
                record,
            )
        except STORE_ERRORS as exc:
            print(f"cpulab: warning: advice not saved: {one_line(str(exc))}", file=sys.stderr)
            advice_id = None
    if args.json:
        print(json.dumps({"id": advice_id, "task": plan.task.name, "scale": plan.scale,
                          "variant": plan.options.variant, **record},
                         indent=2, allow_nan=False))  # fmt: skip
    else:
        variant = f" [{plan.options.variant}]" if plan.options.variant else ""
        stored = f", advice #{advice_id}" if advice_id is not None else ""
        print(f"{plan.task.title} ({plan.scale}){variant}{stored}")
        for line in advice.lines():
            print(line)
    if stopped is not None:
        report_stop(stopped)
        return exit_status(stopped)
    return EXIT_OK if advice_id is not None else EXIT_FAILED
