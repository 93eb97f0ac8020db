"""`cpulab run`: one task at one core split, measured and stored."""

from __future__ import annotations

import argparse
import json

from cpulab.cli.outcome import exit_status, refuse_bad_input, session_for, stop_record
from cpulab.cli.parser import check_memory_of, spec_from_args
from cpulab.cli.render import print_result, report_stop, run_in_terminal
from cpulab.engine.events import Result
from cpulab.engine.store import ResultStore


def cmd_run(args: argparse.Namespace) -> int:
    spec = spec_from_args(args)
    check_memory_of(spec, args)
    with ResultStore.open(args.db) as store:
        outcome = run_in_terminal(session_for(spec, store), quiet=args.json)
    refuse_bad_input(outcome)
    result = outcome.final if isinstance(outcome.final, Result) else None
    if args.json:
        print(json.dumps(result.summary() if result else {"error": stop_record(outcome)}, indent=2))
    elif result is not None:
        print_result(result)
    else:
        report_stop(outcome)
    return exit_status(outcome)
