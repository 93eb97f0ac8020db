"""The command line: the app on a terminal, subcommands for headless use.

One module per subcommand; `parser` holds what the command line accepts, `render` what
it prints, `outcome` what a session's end means for the exit status.

Exit status: 0 done, 1 the task failed, 2 bad input, 130 cancelled with Ctrl-C, 128 + N
interrupted by signal N (SIGTERM, SIGHUP).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from cpulab.cli.app import cmd_demo, open_app
from cpulab.cli.export import cmd_export
from cpulab.cli.history import cmd_history
from cpulab.cli.parser import EXIT_INTERRUPTED, EXIT_USAGE, build_parser, one_line
from cpulab.cli.run import cmd_run
from cpulab.cli.sweep import cmd_sweep
from cpulab.cli.tasks import cmd_tasks
from cpulab.engine.errors import UsageError

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "tasks": cmd_tasks,
    "run": cmd_run,
    "sweep": cmd_sweep,
    "history": cmd_history,
    "export": cmd_export,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command is None:
            if sys.stdin.isatty() and sys.stdout.isatty():
                return open_app(args)
            return cmd_demo(args)
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"cpulab: error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # outside a run, which handles Ctrl-C itself
        print("cpulab: cancelled", file=sys.stderr)
        return EXIT_INTERRUPTED


__all__ = ["main"]
