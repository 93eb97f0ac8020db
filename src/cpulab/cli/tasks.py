"""`cpulab tasks`: every task there is to run, built-in, installed plug-ins, task files."""

from __future__ import annotations

import argparse
import sys

from cpulab.cli.parser import EXIT_OK, one_line
from cpulab.engine.plugins import load_catalogue
from cpulab.engine.tasks import KNOB_TITLES


def cmd_tasks(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    catalogue = load_catalogue(args.task_files)
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    for task in catalogue.tasks.values():
        notes = [
            " and ".join(KNOB_TITLES[k] for k in sorted(task.knobs, reverse=True)),
            f"score: {task.metric}",
        ]
        if task.data_kind:
            notes.append(f"takes --data ({task.data_kind})")
        if task.origin != "built-in":
            notes.append(task.origin)
        small = f"At small scale: {task.small}\n" if task.small else ""
        # Plug-ins write their own names and text: print them as written, never as markup.
        table.add_row(
            escape(task.name),
            f"[b]{escape(task.title)}[/b] [dim]({escape('; '.join(notes))})[/dim]\n"
            f"{escape(task.description)}\n{escape(small)}",
        )
    Console().print(table)
    for problem in catalogue.problems:
        print(f"cpulab: warning: {one_line(problem)}", file=sys.stderr)
    return EXIT_OK
