"""Whether the process that started a sweep is still alive: how a sweep whose process was
killed without a word (SIGKILL, the OOM killer, a lost machine) is told from one that is
still measuring in another terminal.

A process is named by its host name, and on Linux by its boot, PID namespace, pid and
start; a pid alone is reused, and so is a host name (a store copied from another machine).
The kernel draws a new boot id at each start, so a boot id that matches is this machine
since its last start, where the pid's start (clock ticks from boot, which no change of the
wall clock moves, unlike psutil's create_time) tells whether it still runs. One that
differs is this machine started again only where the installation (machine-id) matches.
A process is found gone only where that is certain: one of another machine or PID
namespace, or one this user may not look at, may be alive."""

from __future__ import annotations

import functools
import json
import os
import socket
from pathlib import Path
from typing import Any

from cpulab.engine.proctree import PROC, ProcStat, parse_stat

START_SLACK = 1.0  # seconds: psutil's start time where there is no /proc may be rounded


def this_process() -> str:
    """This process's name as `gone` reads it: JSON, kept with the sweep it starts."""
    return _name_of(os.getpid())  # anew in a forked child


@functools.lru_cache(maxsize=1)
def _name_of(pid: int) -> str:
    me: dict[str, Any] = {"host": socket.gethostname(), "pid": pid}
    if (stat := _stat(pid)) is not None:
        me |= {
            "machine": _machine_id(),
            "boot": _boot_id(),
            "pidns": _pid_namespace(pid),
            "start": stat.start,
        }
    else:
        try:
            import psutil

            me["started"] = psutil.Process(pid).create_time()
        except Exception:  # a name without its start is never found gone
            pass
    return json.dumps(me, sort_keys=True)


def gone(owner: str) -> bool:
    """Whether the process `this_process` named as `owner` has certainly ended. False
    wherever that cannot be told: another machine, another PID namespace, a process this
    user may not look at, a name that cannot be read."""
    try:
        return _gone(json.loads(owner))
    except Exception:  # not a name `this_process` wrote
        return False


def _gone(named: dict[str, Any]) -> bool:
    pid = int(named["pid"])
    if named["host"] != socket.gethostname() or pid <= 0:
        return False
    if "start" not in named:
        return _gone_by_psutil(pid, float(named["started"]))
    boot = _boot_id()
    if boot is None or named["boot"] != boot:
        # Booted since, if this is the same installation; else another machine's.
        machine = _machine_id()
        return boot is not None and machine is not None and named["machine"] == machine
    if named["pidns"] != _pid_namespace(os.getpid()):
        return False  # a container's: its pids are not ours to look up
    try:
        data = _read(f"{PROC}/{pid}/stat")
    except FileNotFoundError:  # ended, or hidden from this user (hidepid)
        return not _exists(pid)
    except OSError:  # there, but not this user's to read
        return False
    stat = parse_stat(pid, data)
    # A zombie has ended, and waits for its parent to read how.
    return stat is not None and (stat.start != named["start"] or stat.state == "Z")


def _gone_by_psutil(pid: int, started: float) -> bool:
    """Where there is no /proc: psutil's start time, which is rounded."""
    import psutil

    try:
        process = psutil.Process(pid)
        return (
            abs(process.create_time() - started) > START_SLACK
            or process.status() == psutil.STATUS_ZOMBIE
        )
    except psutil.NoSuchProcess:  # a zombie's ZombieProcess too
        return True
    except psutil.Error:  # another user's, say: it may be alive
        return False


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0 checks, and sends nothing
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: another user's
        return True
    return True


def _stat(pid: int) -> ProcStat | None:
    try:
        return parse_stat(pid, _read(f"{PROC}/{pid}/stat"))
    except OSError:
        return None


def _read(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read()


@functools.cache
def _boot_id() -> str | None:
    return _first_line(Path(PROC, "sys/kernel/random/boot_id"))


@functools.cache
def _machine_id() -> str | None:
    return _first_line(Path("/etc/machine-id")) or _first_line(Path("/var/lib/dbus/machine-id"))


@functools.lru_cache(maxsize=1)
def _pid_namespace(pid: int) -> str | None:
    """This process's PID namespace (`pid`: which process this is, after a fork)."""
    try:
        return os.readlink(f"{PROC}/self/ns/pid")
    except OSError:
        return None


def _first_line(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace").strip() or None
    except OSError:
        return None
