"""`cpulab compare A B`: is B slower than A, split by split, and is it more than noise?

A and B are sweeps (`12`, `sweep:12`) or stored results (`run:101`), ids as `cpulab history`
shows them; `--task NAME --machines A,B` takes the newest result of each split of a task on
each of two machines instead. `--fail-if-slower PCT` makes it a gate for CI: exit status 1
where B is significantly slower than A by more than PCT % at any split.
"""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from cpulab.cli.parser import (
    EXIT_FAILED,
    EXIT_OK,
    check_task_filter,
    machine_filter,
    row_id,
)
from cpulab.cli.render import warn_unreadable
from cpulab.engine.compare import (
    ALPHA,
    SUGGESTED_REPEATS,
    Comparison,
    PointComparison,
    Side,
    check_comparable,
    compare,
    machine_sides,
    run_side,
    smallest_p,
    split_label,
    sweep_side,
)
from cpulab.engine.errors import UsageError
from cpulab.engine.store import ResultStore

SIDE = re.compile(r"(?:(sweep|run):)?([0-9]+)")
PERCENT = f"{ALPHA * 100:g} %"
HEADER = ("split", "A median s", "B median s", "B vs A", "95 % interval", "p")


def cmd_compare(args: argparse.Namespace) -> int:
    chosen = _chosen(args)
    with ResultStore.open(args.db, readonly=True) as store, store.snapshot():
        if isinstance(chosen, tuple):
            task, machines = chosen
            check_task_filter(store, task)
            a, b = machine_sides(store, task, machines, args.task_scale)
        else:
            a, b = (_side(store, kind, number) for kind, number in chosen)
        check_comparable(a, b)
        comparison = compare(a, b)
        warn_unreadable(store)
    limit = args.fail_if_slower
    over = [] if limit is None else comparison.slower_than(limit)
    if args.json:
        print(json.dumps(_document(comparison, limit, over), indent=2))
    else:
        print("\n".join(_report(comparison, limit, over)))
    return EXIT_FAILED if over else EXIT_OK


def _chosen(args: argparse.Namespace) -> list[tuple[str, int]] | tuple[str, tuple[Any, Any]]:
    """The two sides asked for: (kind, id) twice, or a task and two machines."""
    by_machine = args.task is not None or args.machines is not None
    if args.sides and by_machine:
        raise UsageError("compare two sweeps or results, or --task on --machines, not both")
    if by_machine:
        if args.task is None or args.machines is None:
            raise UsageError("--task and --machines go together: --task NAME --machines A,B")
        machines = [text.strip() for text in args.machines.split(",")]
        if len(machines) != 2 or not all(machines):
            raise UsageError(f"--machines names two machines, as alpha,beta, not {args.machines!r}")
        first, second = (machine_filter(text) for text in machines)
        if first == second:
            raise UsageError(f"--machines names {first!r} twice: name two machines")
        return args.task, (first, second)
    if args.task_scale is not None:
        raise UsageError("--scale chooses among a task's results: give it with --task")
    if len(args.sides) != 2:
        raise UsageError(
            "name two to compare: sweeps (cpulab compare 12 15), stored results "
            "(run:101 run:102), or --task NAME --machines A,B"
        )
    sides = [_parse_side(text) for text in args.sides]
    if sides[0] == sides[1]:
        kind, number = sides[0]
        raise UsageError(f"A and B are both {_name(kind, number)}: compare two different ones")
    return sides


def _parse_side(text: str) -> tuple[str, int]:
    match = SIDE.fullmatch(text)
    if match is None:
        raise UsageError(
            f"cannot read {text!r}: name a sweep as 12 or sweep:12, a stored result as run:101"
        )
    kind, digits = match.group(1) or "sweep", match.group(2)
    number = row_id(digits, _name(kind, "{}"), "sweep" if kind == "sweep" else "result")
    if number < 1:
        raise UsageError(f"{kind} ids start at 1, not {number}")
    return kind, number


def _name(kind: str, number: int | str) -> str:
    return f"sweep #{number}" if kind == "sweep" else f"stored result #{number}"


def _side(store: ResultStore, kind: str, number: int) -> Side:
    return sweep_side(store, number) if kind == "sweep" else run_side(store, number)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f} %"


def _cells(point: PointComparison) -> tuple[str, ...]:
    shift = point.shift
    low, high = point.percent(shift.low), point.percent(shift.high)
    interval = "-" if low is None or high is None else f"{_percent(low)} to {_percent(high)}"
    mark = "" if point.significant else "~"
    return (
        point.label,
        f"{point.median_a:.3f}",
        f"{point.median_b:.3f}",
        mark + _percent(point.percent(shift.estimate)),
        interval,
        f"{point.test.p_value:.2g}",
    )


def _report(comparison: Comparison, limit: float | None, over: list[PointComparison]) -> list[str]:
    lines = [f"A: {comparison.a.label}", f"B: {comparison.b.label}", ""]
    if comparison.points:
        rows = [HEADER, *(_cells(point) for point in comparison.points)]
        widths = [max(len(row[n]) for row in rows) for n in range(len(HEADER))]
        for row in rows:
            cells = [cell.ljust(w) if n == 0 else cell.rjust(w) for n, (cell, w) in
                     enumerate(zip(row, widths, strict=True))]  # fmt: skip
            lines.append("  ".join(cells).rstrip())
        lines.append(
            "B vs A: the shift of B's times (Hodges-Lehmann) as a share of A's median, with"
        )
        lines.append(f"its 95 % interval; ~: not significant at {PERCENT} (Mann-Whitney U test, p)")
    else:
        lines.append("No split was measured on both sides.")
    for name, splits in (("A", comparison.only_a), ("B", comparison.only_b)):
        if splits:
            listed = ", ".join(split_label(split) for split in splits)
            lines.append(f"Only in {name}, not compared: {listed}")
    lines.append("")
    if comparison.points:
        lines.extend(comparison.verdict_lines())
    for point in comparison.points:
        if not point.can_be_significant:
            m, n = len(point.a.fit_times), len(point.b.fit_times)
            lines.append(
                f"note: at {point.label}, with {m} and {n} repeats, no shift can be "
                f"significant at {PERCENT} "
                f"(the smallest p is {smallest_p(m, n):.2g}):"
            )
            lines.append(f"      measure again with --repeats {SUGGESTED_REPEATS} or more")
            break
    if limit is not None:
        if over:
            worst = ", ".join(f"{p.label} ({_percent(p.percent(p.shift.estimate))})" for p in over)
            lines.append(f"fail: B is slower than A by more than {limit:g} % at {worst}")
        else:
            lines.append(f"pass: B is nowhere significantly slower than A by more than {limit:g} %")
    return lines


def _document(
    comparison: Comparison, limit: float | None, over: list[PointComparison]
) -> dict[str, Any]:
    return {
        "a": comparison.a.label,
        "b": comparison.b.label,
        "points": [
            {
                "train": point.split[0],
                "eval": point.split[1],
                "a": {"median": point.median_a, "times": point.a.fit_times},
                "b": {"median": point.median_b, "times": point.b.fit_times},
                "shift_seconds": point.shift.estimate,
                "shift_percent": point.percent(point.shift.estimate),
                "interval_percent": None
                if point.shift.low is None
                else [point.percent(point.shift.low), point.percent(point.shift.high)],
                "u": point.test.u,
                "p_value": point.test.p_value,
                "exact": point.test.exact,
                "significant": point.significant,
                "can_be_significant": point.can_be_significant,
            }
            for point in comparison.points
        ],
        "only_a": [list(split) for split in comparison.only_a],
        "only_b": [list(split) for split in comparison.only_b],
        "verdict": comparison.verdict() if comparison.points else None,
        "too_few_repeats": comparison.too_few_repeats,
        "fail_if_slower": limit,
        "failed": bool(over),
    }
