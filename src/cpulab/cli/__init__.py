"""The command line: the app on a terminal, subcommands for headless use.

One module per subcommand; `parser` holds what the command line accepts, `render` what
it prints, `outcome` what a session's end means for the exit status.

Exit status: 0 done, 1 the task failed, 2 bad input, 130 cancelled with Ctrl-C, 128 + N
interrupted by signal N (SIGTERM, SIGHUP). 1 too, quietly, where whatever read the output
went away before its end, as `| head` does.
"""

from __future__ import annotations

import sys

# Ctrl-C while these load (the parser imports the engine and SQLite) cancels as it does
# later, rather than with a traceback from inside an import.
try:
    import argparse
    import contextlib
    import errno
    import importlib
    import io
    import os
    import signal
    from collections.abc import Callable, Sequence

    from cpulab.cli.app import cmd_demo, open_app
    from cpulab.cli.config import apply_settings, read_settings
    from cpulab.cli.parser import (
        EXIT_INTERRUPTED,
        EXIT_USAGE,
        build_parser,
        one_line,
        store_path,
    )
    from cpulab.engine.errors import Interrupted, UsageError
    from cpulab.startup import release_collector
except KeyboardInterrupt:
    print("cpulab: cancelled", file=sys.stderr)
    raise SystemExit(130) from None  # EXIT_INTERRUPTED, whose module may not have loaded

Command = Callable[[argparse.Namespace], int]
# Each command's "module:function", imported only when it runs (inside main(), where Ctrl-C
# during that import cancels too); a function itself is called as it is.
COMMANDS: dict[str, str | Command] = {
    "tasks": "cpulab.cli.tasks:cmd_tasks",
    "run": "cpulab.cli.run:cmd_run",
    "sweep": "cpulab.cli.sweep:cmd_sweep",
    "advise": "cpulab.cli.advise:cmd_advise",
    "history": "cpulab.cli.history:cmd_history",
    "export": "cpulab.cli.export:cmd_export",
    "delete": "cpulab.cli.points:cmd_delete",
    "restore": "cpulab.cli.points:cmd_restore",
    "config": "cpulab.cli.config:cmd_config",
    "serve": "cpulab.cli.serve:cmd_serve",
    "compare": "cpulab.cli.compare:cmd_compare",
    "show": "cpulab.cli.show:cmd_show",
    "doctor": "cpulab.cli.doctor:cmd_doctor",
}
# What writing the output can fail with beyond a closed pipe: a full disk (> /dev/full).
OUTPUT_FAILURES = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO})
EXIT_READER_GONE = 1  # as rich exits when a pipe closes on its output, after Python's docs


def main(argv: Sequence[str] | None = None) -> int:
    if sys.stdout is None:  # started with it closed (`>&-`): refused before anything runs
        if sys.stderr is not None:
            print("cpulab: error: cannot write the output: standard output is closed",
                  file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    _replace_unencodable_output()
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit:  # --help, --version, or a usage error told on stderr
            sys.stdout.flush()  # text that cannot be written is a failure, as below
            raise
        args.argv = list(sys.argv[1:] if argv is None else argv)  # `serve` passes them on
        status = _dispatch(args)
        sys.stdout.flush()  # output that cannot be written fails here at the latest
        return status
    except UsageError as exc:
        print(f"cpulab: error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # outside a run, which handles Ctrl-C itself
        print("cpulab: cancelled", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Interrupted as exc:  # SIGTERM or SIGHUP, once what was half done is undone
        with contextlib.suppress(OSError):  # a hung-up terminal takes no more
            print(f"cpulab: interrupted by {signal.Signals(exc.signum).name}", file=sys.stderr)
        return 128 + exc.signum
    # Results are stored before they are printed: output that cannot be written loses none.
    except BrokenPipeError:  # the reader has gone, as `| head` does: nothing left to say
        _discard_output()
        return EXIT_READER_GONE
    except OSError as exc:
        if exc.errno not in OUTPUT_FAILURES or exc.filename is not None:
            raise  # not a write to standard output
        _discard_output()
        print(f"cpulab: error: cannot write the output: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE


def _dispatch(args: argparse.Namespace) -> int:
    settings = read_settings()  # a file that cannot be used stops every command alike
    apply_settings(args, settings)
    if args.command not in ("tasks", "config", "doctor"):  # no store, or config shows it
        args.db = store_path(args.db, settings.db)
    if args.command is not None:
        run = command(args.command)
    elif _app_drawn():
        return open_app(args)  # which lets the collector go at its first frame
    else:
        run = cmd_demo
    release_collector()  # loaded: the command's own work goes on with it
    return run(args)


def _app_drawn() -> bool:
    """Whether `cpulab` with no command opens the app, rather than the headless demo: on
    a terminal that can draw it, or served to a browser (cpulab serve), through pipes."""
    if "web_driver" in os.environ.get("TEXTUAL_DRIVER", ""):
        return True
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return False
    if os.environ.get("TERM") == "dumb":
        print("cpulab: TERM=dumb cannot draw the app: running the headless demo", file=sys.stderr)
        return False
    return True


def command(name: str) -> Command:
    """The function of command `name`, its module imported now."""
    target = COMMANDS[name]
    if not isinstance(target, str):
        return target
    module, function = target.split(":")
    found: Command = getattr(importlib.import_module(module), function)
    return found


def _replace_unencodable_output() -> None:
    """Characters the output's encoding lacks (an ASCII locale has no ✓ or box lines) come
    out as '?' rather than as a UnicodeEncodeError. stderr already escapes them."""
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="replace")


def _discard_output() -> None:
    """Point stdout at /dev/null: the interpreter's last flush of what could not be written
    would fail again on the way out, with a traceback."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, ValueError, io.UnsupportedOperation):  # not a file: nothing to flush
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


__all__ = ["main"]
