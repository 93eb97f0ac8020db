"""Run a command on a pseudo-terminal, as a person's terminal would, for the app benchmarks.

The app draws to a real terminal device (escape codes and all); a thread drains what it
writes, the way a terminal emulator reads it.
"""

from __future__ import annotations

import os
import pty
import struct
import subprocess
import termios
import threading
from fcntl import ioctl


def run_on_terminal(command: list[str], size: tuple[int, int], timeout: float, env=None) -> int:
    """Run `command` with a `size` (columns, rows) terminal as its stdio; returns its status."""
    main_fd, child_fd = pty.openpty()
    columns, rows = size
    ioctl(child_fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    proc = subprocess.Popen(
        command,
        stdin=child_fd,
        stdout=child_fd,
        stderr=child_fd,
        env={**os.environ, "TERM": "xterm-256color", **(env or {})},
        start_new_session=True,
    )
    os.close(child_fd)

    def drain():
        try:
            while os.read(main_fd, 65536):
                pass
        except OSError:  # the terminal closed with the app
            pass

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        return proc.wait(timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
        reader.join(1)
        os.close(main_fd)
