"""`cpulab doctor`: what makes measurements unstable on this machine, item by item, with
advice. Read-only: it opens no store and changes no setting."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap

from cpulab.cli.parser import EXIT_OK
from cpulab.engine.doctor import WARN, Check, gather, noisy_items, sweep_warnings

WIDTH = 80
MARKS = {"ok": "ok", "warn": "WARN", "info": "--"}
MARK_WIDTH = 4
TITLE_WIDTH = 14  # the longest title ("isolated CPUs", "memory limit") and a space


def cmd_doctor(args: argparse.Namespace) -> int:
    checks = gather()
    if args.json:
        document = {
            "checks": [check.to_dict() for check in checks],
            "noisy": [check.name for check in noisy_items(checks)],
        }
        print(json.dumps(document, indent=2))
        return EXIT_OK
    print("\n".join(doctor_lines(checks)))
    return EXIT_OK


def doctor_lines(checks: list[Check], width: int = WIDTH) -> list[str]:
    """The items as a table of `width` columns: a mark, the item, its value, and below the
    value its advice, wrapped."""
    indent = " " * (MARK_WIDTH + 2 + TITLE_WIDTH + 1)
    lines = []
    for check in checks:
        mark = MARKS.get(check.status, check.status)
        head = f"{mark:<{MARK_WIDTH}}  {check.title:<{TITLE_WIDTH}} "
        lines += textwrap.wrap(
            check.value, width, initial_indent=head, subsequent_indent=indent
        ) or [head.rstrip()]
        if check.advice:
            lines += textwrap.wrap(
                check.advice, width, initial_indent=indent, subsequent_indent=indent
            )
    warned = [c for c in checks if c.status == WARN]
    noisy = noisy_items(checks)
    if not warned:
        lines.append("Nothing here makes measurements less stable.")
    elif noisy:
        names = ", ".join(c.title for c in noisy)
        lines += textwrap.wrap(
            f"Results measured now would vary from run to run ({names}): a sweep warns of "
            "these before it starts.",
            width,
        )
    return lines


def warn_before_sweep() -> None:
    """One "cpulab: warning:" line on stderr for each item that would make a sweep's
    results noisy; the sweep goes on."""
    for line in sweep_warnings():
        print(f"cpulab: warning: {line}", file=sys.stderr)
