"""A sweep cut short by quitting the app or by kill -9 of the app: no process of it is
left, and the store opens clean with every point that had finished.

(Ctrl-C and kill -9 of `cpulab sweep` are in tests/test_cli_sweep.py.)
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
from textual.widgets import Input

from cpulab.engine.store import OWNER_GONE, ResultStore
from cpulab.engine.supervisor import Supervisor
from cpulab.ui.screens.sweep_dialog import SweepDialog
from support.reliability import leftovers, marked_env, seconds_until_gone
from support.tui import make_app, wait_for

# cv-eval at 1 and 2 evaluation cores, one measured run each and no warm-up: once the first
# point is stored, the second still has its worker processes to start and its folds to fit,
# a second or more in which the sweep is surely cut short between points. Each key, and
# what the app draws once it has taken it.
KEYS_FOR_A_SHORT_SWEEP = (
    (b"\x1b[B", b"Score a 100-tree"),  # down: cv-eval, its description shows
    (b"w", b"2 points, 4 runs each"),  # the sweep dialog: cores pow2, 1 and 2 on 2 cores
    (b"\t", None),  # the strategy: eval
    (b"\t", None),  # the repeats, selected on focus
    (b"1", b"2 points, 2 runs each"),
    (b"\t", None),  # the warm-ups, selected on focus
    (b"0", b"2 points, 1 run each"),
    (b"\r", None),  # start
)


def sweeps_of(path: Path) -> int:
    """Stored sweeps, or 0 before the store exists."""
    if not path.exists():
        return 0
    with ResultStore.open(path) as store:
        return len(store.sweeps())


def points_of(path: Path) -> int:
    """Stored points, or 0 before the store exists."""
    if not path.exists():
        return 0
    with ResultStore.open(path) as store:
        return len(store.points())


async def test_quitting_the_app_mid_sweep_keeps_the_finished_points(results_store):
    env, token = marked_env()
    with ResultStore.open(results_store) as store:
        app = make_app(store=store, supervisor=Supervisor(env=env, spares=False))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("down")  # cv-eval
            await pilot.press("w")
            await wait_for(pilot, lambda: isinstance(app.screen, SweepDialog))
            app.screen.query_one("#sweep-cores", Input).value = "1,2"
            app.screen.query_one("#sweep-repeats", Input).value = "1"
            app.screen.query_one("#sweep-warmup", Input).value = "0"
            await pilot.pause()
            await pilot.press("enter")
            await wait_for(pilot, lambda: len(app.results) == 1, timeout=60)
            assert app.running
            await pilot.press("q")
        assert not leftovers(token)
        (sweep,) = store.sweeps()
        assert (sweep.status, sweep.n_points) == ("cancelled", 1)
    with ResultStore.open(results_store) as reopened:
        assert [p.result for p in reopened.points()] == app.results


class Terminal:
    """`cpulab` on a pseudo-terminal of 120 x 40, as a user starts it."""

    def __init__(self, env: dict[str, str], controlling: bool = False):
        """`controlling`: the app's controlling terminal, as a login's is, so that closing
        it (`hang_up`) hangs the app up as a closed window or a dropped SSH session does."""
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cpulab"],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**env, "TERM": "xterm-256color"},
            start_new_session=True,  # then, in the new session, its terminal:
            preexec_fn=(lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0)) if controlling else None,
        )
        os.close(slave)
        self.master: int | None = master
        self.screen = bytearray()
        # The app blocks once the terminal's buffer is full: keep reading what it draws.
        self._reading = True
        self._reader = threading.Thread(target=self._read, args=(master,), daemon=True)
        self._reader.start()

    def _read(self, master: int) -> None:
        while self._reading:
            # Not blocked in a read for long: the terminal hangs up only once no read
            # holds it open.
            if not select.select([master], [], [], 0.1)[0]:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # the app is gone and the terminal hung up
                return
            if not data:
                return
            self.screen += data

    def wait_for_text(self, text: bytes, since: int = 0, timeout: float = 30) -> None:
        """Wait until the app has drawn `text`, after the first `since` bytes it drew."""
        deadline = time.monotonic() + timeout
        while text not in self.screen[since:]:
            assert self.proc.poll() is None, bytes(self.screen[-2000:])
            assert time.monotonic() < deadline, f"{text!r} never appeared"
            time.sleep(0.05)

    def press(self, keys: bytes, shows: bytes | None) -> None:
        """Type `keys`, and wait until the app draws `shows` (or a moment, for None)."""
        since = len(self.screen)
        os.write(self.master, keys)
        if shows is None:
            time.sleep(0.2)
        else:
            self.wait_for_text(shows, since)

    def start_short_sweep(self) -> None:
        """Once the app is up, start the sweep of KEYS_FOR_A_SHORT_SWEEP."""
        self.wait_for_text(b"Sweep")  # the footer: the app is up
        for keys, shows in KEYS_FOR_A_SHORT_SWEEP:
            self.press(keys, shows)

    def wait_until(self, done: Callable[[], object], never: str, timeout: float = 60) -> None:
        """Wait while the app runs until `done()` is true; fail saying `never` after
        `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not done():
            assert self.proc.poll() is None, bytes(self.screen[-2000:])
            assert time.monotonic() < deadline, never
            time.sleep(0.02)

    def hang_up(self) -> None:
        """Close the terminal, as a closed window does: the kernel sends SIGHUP."""
        assert self.master is not None
        self._reading = False
        self._reader.join(5)
        os.close(self.master)
        self.master = None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._reader.join(5)  # it reads to the end of what the app drew
        if self.master is not None:
            os.close(self.master)


def test_kill_9_of_the_app_mid_sweep_leaves_no_process_and_a_clean_store(results_store):
    env, token = marked_env({**os.environ, "LOKY_MAX_CPU_COUNT": "2"})
    terminal = Terminal(env)
    try:
        terminal.start_short_sweep()
        terminal.wait_until(lambda: points_of(results_store), "the first point never finished")
        finished = points_of(results_store)
        assert len(leftovers(token)) >= 2, "expected the app and its runner"
        terminal.proc.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        terminal.proc.wait(10)
    finally:
        terminal.close()

    # The runner notices its parent is gone and takes its workers down with it.
    assert seconds_until_gone(token, killed, timeout=10) is not None
    with ResultStore.open(results_store) as store:
        assert len(store.points()) == finished == 1
        (sweep,) = store.sweeps()
        # It never got to say how it ended: its process is gone.
        assert (sweep.status, sweep.error, sweep.n_points) == ("interrupted", OWNER_GONE, 1)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_sigterm_or_sighup_ends_the_app_as_quitting_does_with_the_sweep_interrupted(
    results_store, signum
):
    env, token = marked_env({**os.environ, "LOKY_MAX_CPU_COUNT": "2"})
    terminal = Terminal(env)
    try:
        terminal.start_short_sweep()
        terminal.wait_until(lambda: points_of(results_store), "the first point never finished")
        drawn = len(terminal.screen)
        terminal.proc.send_signal(signum)
        sent = time.monotonic()
        status = terminal.proc.wait(20)
    finally:
        terminal.close()  # and all it drew read

    assert status == 128 + signum
    assert seconds_until_gone(token, sent, timeout=10) is not None
    after = bytes(terminal.screen[drawn:])
    assert b"\x1b[?1049l" in after  # the terminal's own screen given back
    assert f"cpulab: interrupted by {signum.name}".encode() in after
    with ResultStore.open(results_store) as store:
        (sweep,) = store.sweeps()
        # Recorded by the app itself: how it ended, not that its process went missing.
        assert (sweep.status, sweep.error, sweep.n_points) == ("interrupted", None, 1)
        assert len(store.points()) == 1


def test_a_closed_terminal_ends_the_app_with_its_sweep_recorded_as_interrupted(results_store):
    env, token = marked_env({**os.environ, "LOKY_MAX_CPU_COUNT": "2"})
    terminal = Terminal(env, controlling=True)
    try:
        terminal.start_short_sweep()
        terminal.wait_until(lambda: points_of(results_store), "the first point never finished")
        terminal.hang_up()
        closed = time.monotonic()
        # Its last frames have nowhere to go: it gives up on them past EXIT_GRACE (5 s).
        status = terminal.proc.wait(30)
    finally:
        terminal.close()

    assert status == 128 + signal.SIGHUP
    assert seconds_until_gone(token, closed, timeout=10) is not None
    with ResultStore.open(results_store) as store:
        (sweep,) = store.sweeps()
        assert (sweep.status, sweep.error, sweep.n_points) == ("interrupted", None, 1)


def stopped(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_STOPPED
    except psutil.NoSuchProcess:
        return False


def test_ctrl_z_stops_the_app_with_its_run_and_both_go_on_when_continued(results_store):
    env, token = marked_env({**os.environ, "LOKY_MAX_CPU_COUNT": "2"})
    terminal = Terminal(env)
    try:
        terminal.start_short_sweep()
        # Stored as it starts: its runner is at work.
        terminal.wait_until(lambda: sweeps_of(results_store), "the sweep never started")
        app = psutil.Process(terminal.proc.pid)
        os.write(terminal.master, b"\x1a")  # Ctrl-Z
        terminal.wait_until(lambda: stopped(app), "the app never stopped", 10)
        # The runner, and every worker in its process group, stopped with it; the spare
        # runner waiting for the next run may go on waiting.
        runners = [p for p in leftovers(token) if p.pid != app.pid and stopped(p)]
        assert runners, "the run went on while the app was stopped"
        groups = {os.getpgid(p.pid) for p in runners}
        members = [p for p in leftovers(token) if os.getpgid(p.pid) in groups]
        assert all(stopped(p) for p in members)

        app.send_signal(signal.SIGCONT)  # fg
        terminal.wait_until(
            lambda: not any(stopped(p) for p in leftovers(token)),
            "the run was not continued with the app",
            10,
        )
        terminal.wait_until(lambda: points_of(results_store) == 2, "the sweep never finished", 90)
        terminal.proc.send_signal(signal.SIGTERM)
        ended = time.monotonic()
        terminal.proc.wait(20)
    finally:
        terminal.close()
    assert seconds_until_gone(token, ended, timeout=10) is not None
