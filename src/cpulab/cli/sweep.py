"""`cpulab sweep`: one task over several core counts, each result stored as it arrives."""

from __future__ import annotations

import argparse
import json

from cpulab.cli.doctor import warn_before_sweep
from cpulab.cli.outcome import exit_status, refuse_bad_input, session_for, stop_record
from cpulab.cli.parser import check_memory_of, plan_from_args
from cpulab.cli.render import print_report, report_stop, run_in_terminal
from cpulab.engine.memory import machine_limit, model_for
from cpulab.engine.presentation import points_done, printable, sweep_lines
from cpulab.engine.stats import analyse_results
from cpulab.engine.store import ResultStore


def cmd_sweep(args: argparse.Namespace) -> int:
    plan = plan_from_args(args)
    check_memory_of(plan, args)
    cluster = plan.options.cluster
    with ResultStore.open(args.db) as store:  # a store it cannot write: refused, and no more
        if cluster is None or cluster.startswith("local:"):  # a remote cluster's load is its own
            warn_before_sweep()
        outcome = run_in_terminal(session_for(plan, store), quiet=args.json)
        # Its own results included: what the next sweep of this task would be told.
        memory = model_for(store, plan.task.name, plan.scale, plan.options.variant)
    refuse_bad_input(outcome)
    limit = machine_limit(args.memory_limit)
    results = outcome.results + outcome.partial  # a sweep cut short keeps its partial points
    report = analyse_results(results) if results else None
    model = outcome.model  # fitted as the sweep ended, and stored with it
    machine_cores = results[0].available if results else 1
    if args.json:
        document = {
            "sweep": {"id": outcome.sweep_id, "task": plan.task.name, "scale": plan.scale,
                      "strategy": plan.strategy, "cores": list(plan.cores),
                      "repeats": plan.repeats, "warmup": plan.warmup, "status": outcome.status},
            "points": [r.summary() for r in results],
            "analysis": report.to_dict() if report else None,
            "model": model.to_dict(machine_cores) if model else None,
            "memory_model": memory.to_dict(limit) if memory else None,
        }  # fmt: skip
        if outcome.status != "done":
            document["error"] = stop_record(outcome)
        print(json.dumps(document, indent=2, allow_nan=False))
    else:
        if report is not None:
            from rich.markup import escape  # a variant's "[...]" is not markup

            variant = f" [{plan.options.variant}]" if plan.options.variant else ""
            title = printable(f"{plan.task.title} ({plan.scale}){variant}, {plan.varies}")
            if outcome.sweep_id is not None:
                title += f", sweep {outcome.sweep_id}"
            if outcome.status != "done":
                done = points_done(len(outcome.results), len(outcome.partial), len(plan.splits()))
                title += f" ({outcome.status}: {done})"
            lines = sweep_lines(report, model, memory, limit, plan.strategy, results[0])
            print_report(report, escape(title), lines)
        report_stop(outcome)
    return exit_status(outcome)
