"""Run a command on a pseudo-terminal, as a person's terminal would, for the app benchmarks.

The app draws to a real terminal device (escape codes and all); a thread drains what it
writes, the way a terminal emulator reads it, and `Terminal.press` types keys.
"""

from __future__ import annotations

import contextlib
import os
import pty
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Callable
from fcntl import ioctl
from typing import Any

# What a terminal sends for the keys the benchmarks press.
KEYS = {
    "enter": b"\r",
    "tab": b"\t",
    "up": b"\x1b[A",
    "down": b"\x1b[B",
    "right": b"\x1b[C",
    "left": b"\x1b[D",
}


class Terminal:
    """`command` running with a `size` (columns, rows) terminal as its stdio."""

    def __init__(self, command: list[str], size: tuple[int, int], env=None):
        self._main, child_fd = pty.openpty()
        columns, rows = size
        ioctl(child_fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        self.proc = subprocess.Popen(
            command,
            stdin=child_fd,
            stdout=child_fd,
            stderr=child_fd,
            env={**os.environ, "TERM": "xterm-256color", **(env or {})},
            start_new_session=True,
        )
        os.close(child_fd)
        self.written = 0  # bytes the program has drawn so far
        self.watched: tuple[bytes, ...] = ()  # words to note the first sight of
        self.seen: dict[bytes, float] = {}  # word -> time.monotonic() it was first drawn
        self.noted: dict[bytes, Any] = {}  # word -> what `watch`'s `note` read then
        self._note: Callable[[], Any] | None = None
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        try:
            while chunk := os.read(self._main, 65536):
                self.written += len(chunk)
                for word in self.watched:
                    if word not in self.seen and word in chunk:
                        self.seen[word], self.noted[word] = time.monotonic(), self._noted()
        except OSError:  # the terminal closed with the program
            pass

    def _noted(self) -> Any:
        """What `note` reads now; None where it fails, so the terminal is still drained."""
        try:
            return self._note() if self._note is not None else None
        except Exception:  # a reading fails; the reader must go on draining
            return None

    def watch(self, *words: str, note: Callable[[], Any] | None = None) -> None:
        """Note when each word is first drawn from now on (a phase's name on screen), and
        what `note()` reads at that moment, as the words are read from the terminal."""
        self.seen, self.noted = {}, {}
        self._note = note
        self.watched = tuple(word.encode() for word in words)

    def press(self, *keys: str, pause: float = 0.3) -> None:
        """Type each key (a name in KEYS, or plain characters), waiting `pause` after each:
        a person's pace, so that focus moves before the next key arrives."""
        for key in keys:
            os.write(self._main, KEYS.get(key, key.encode()))
            time.sleep(pause)

    def drawn(self, timeout: float = 30.0) -> None:
        """Wait until the program has drawn its first screen (an app redraws all the time,
        so there is no quiet moment to wait for)."""
        deadline = time.monotonic() + timeout
        while self.written == 0:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise TimeoutError("the program never drew")
            time.sleep(0.05)

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(1)
        with contextlib.suppress(OSError):  # closed already
            os.close(self._main)


def run_on_terminal(command: list[str], size: tuple[int, int], timeout: float, env=None) -> int:
    """Run `command` on a `size` terminal until it exits; returns its status."""
    return Terminal(command, size, env).wait(timeout)
