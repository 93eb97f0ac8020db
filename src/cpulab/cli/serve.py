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
import socket
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

    check_address(args.host, args.port)
    command = shlex.join([sys.executable, "-m", "cpulab", *app_arguments(args.argv)])
    print(f"cpulab: serving the app on http://{args.host}:{args.port} (Ctrl-C stops)")
    sys.stdout.flush()
    server = AppServer(command, host=args.host, port=args.port, title="cpulab")
    previous = signal.signal(signal.SIGHUP, lambda *_: server.request_exit())
    try:
        server.serve()
    except OSError as exc:  # taken in the moment since the check
        raise UsageError(f"cannot serve on {args.host}:{args.port}: {reason(exc)}") from None
    finally:
        signal.signal(signal.SIGHUP, previous)
        end_descendants()  # however it stopped
    return EXIT_OK


def check_address(host: str, port: int) -> None:
    """Refuse, before saying it serves, an address this machine cannot listen on: a port
    in use, a host name that does not resolve or an address that is not this machine's."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:  # socket.gaierror is one
        raise UsageError(f"cannot serve on {host}:{port}: {reason(exc)}") from None


def reason(error: OSError) -> str:
    return error.strerror or str(error)


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
