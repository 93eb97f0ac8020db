"""`cpulab serve`: the app in a browser on this machine, for a demo on a laptop.

Each browser tab that connects gets its own `cpulab` app, started with the options given
before `serve` (`cpulab --db lab.sqlite --theme nord serve`), through textual-serve, an
optional extra: `pip install 'cpulab[serve]'`.
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import signal
import sys

import psutil

from cpulab.cli.parser import EXIT_OK
from cpulab.engine.errors import UsageError

SERVE_OPTIONS = ("--host", "--port")  # serve's own; everything before `serve` is the app's


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        from textual_serve.server import Server
    except ImportError:
        raise UsageError("cpulab serve needs textual-serve: pip install 'cpulab[serve]'") from None

    class AppServer(Server):
        def request_exit(self) -> None:
            # textual-serve waits for each browser's app to end before it stops, and an
            # app whose browser is still there does not: end them (and their runs) first.
            end_descendants()
            super().request_exit()

    command = shlex.join([sys.executable, "-m", "cpulab", *app_arguments(args.argv)])
    print(f"cpulab: serving the app on http://{args.host}:{args.port} (Ctrl-C stops)")
    sys.stdout.flush()
    server = AppServer(command, host=args.host, port=args.port, title="cpulab")
    previous = signal.signal(signal.SIGHUP, lambda *_: server.request_exit())
    try:
        server.serve()
    finally:
        signal.signal(signal.SIGHUP, previous)
        end_descendants()  # however it stopped
    return EXIT_OK


def end_descendants(grace: float = 3.0) -> None:
    """SIGTERM every process this one started, and theirs; SIGKILL what is left after
    `grace` seconds."""
    children = psutil.Process().children(recursive=True)
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.terminate()
    _, alive = psutil.wait_procs(children, timeout=grace)
    for child in alive:
        with contextlib.suppress(psutil.Error):
            child.kill()


def app_arguments(argv: list[str]) -> list[str]:
    """The arguments before `serve`: the options the served app starts with."""
    for index in range(len(argv) - 1, -1, -1):
        if argv[index] == "serve" and (index == 0 or argv[index - 1] not in SERVE_OPTIONS):
            return argv[:index]
    return []
