"""Finding every process a run started, wherever it went, and waiting for them to go.

A run's processes are found by an environment token rather than by walking the tree:
every process started under the token inherits it, so a worker that was reparented to
init, or started after the last snapshot of the tree, is still found.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid

import psutil

MARK = "CPULAB_TEST_RUN"


def default_signals() -> None:
    """For `preexec_fn`: a process the tests signal starts with every signal at its default.
    A suite started in the background of a non-interactive shell ignores SIGINT, and its
    children would inherit that."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGTSTP):
        signal.signal(signum, signal.SIG_DFL)


def start_python(*args: str, env: dict[str, str]) -> subprocess.Popen:
    """A real `python ARGS` process, its output captured as text, no input, every signal at
    its default."""
    return subprocess.Popen(
        [sys.executable, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
        preexec_fn=default_signals,
    )


def marked_env(base: dict[str, str] | None = None) -> tuple[dict[str, str], str]:
    """An environment for a process tree to start in, and the token that finds its members."""
    token = uuid.uuid4().hex
    return {**(os.environ if base is None else base), MARK: token}, token


def leftovers(token: str) -> list[psutil.Process]:
    """Every live process on the machine that inherited `token` (zombies have ended)."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(MARK) == token and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except psutil.Error:
            pass  # gone meanwhile, or not ours to read
    return found


def seconds_until_gone(token: str, since: float, timeout: float = 10.0) -> float | None:
    """Seconds from `since` (time.monotonic) until no process holds `token`; None if some
    still do after `timeout` seconds, and then they are killed so no test inherits them."""
    deadline = since + timeout
    while True:
        remaining = leftovers(token)
        if not remaining:
            return time.monotonic() - since
        if time.monotonic() > deadline:
            for proc in remaining:
                with contextlib.suppress(psutil.Error):
                    proc.kill()
            return None
        time.sleep(0.02)
