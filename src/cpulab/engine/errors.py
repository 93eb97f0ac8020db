"""Errors the faces turn into one clear line and exit status 2, and the signal that ends
a command midway."""

import signal

# Signals that end a command, or a session running in the foreground, as "interrupted".
INTERRUPTING_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class UsageError(Exception):
    """Bad input from the user: an argument, a file, a setting. Never a bug."""


class Interrupted(BaseException):
    """A signal (SIGTERM, SIGHUP) that ends a command midway, raised where the command has
    something to undo first (a half-written export); the CLI exits with 128 + its number."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum
