"""Whether the process that started a sweep is still alive: how a sweep whose process was
killed without a word (SIGKILL, the OOM killer, a lost machine) is told from one that is
still measuring in another terminal.

A process is named by its host, and on Linux by its installation (machine-id), the boot and
the PID namespace it runs in, its pid and its start: a pid alone is reused, and so is a
host name (two virtual machines called "vm" may share a store on a network disk). Its
start is the kernel's count of clock ticks from boot, read from /proc, which no change of
the wall clock moves (psutil's create_time is computed from the boot time, and moves with
it). Only a process of this machine can be found gone; one of another machine, or of
another PID namespace of this one, may be alive."""

from __future__ import annotations

import functools
import json
import os
import socket
from pathlib import Path

PROC = Path("/proc")
START = 19  # in `_stat_fields`: the start, in clock ticks from boot (field 22 of the line)
START_SLACK = 1.0  # seconds: psutil's start time where there is no /proc may be rounded


def this_process() -> str:
    """This process's name as `gone` reads it: JSON, kept with the sweep it starts."""
    me: dict[str, object] = {"host": socket.gethostname(), "pid": os.getpid()}
    if (fields := _stat_fields(os.getpid())) is not None:
        me |= {
            "machine": _machine_id(),
            "boot": _boot_id(),
            "pidns": _pid_namespace(),
            "start": int(fields[START]),
        }
    else:
        import psutil

        me["started"] = psutil.Process().create_time()
    return json.dumps(me, sort_keys=True)


def gone(owner: str) -> bool:
    """Whether the process `this_process` named as `owner` has certainly ended. False
    wherever that cannot be told: another host, another PID namespace, a name unread."""
    try:
        named = json.loads(owner)
        if named["host"] != socket.gethostname():
            return False
        pid = int(named["pid"])
        if "start" in named:
            if named.get("machine") != _machine_id() or named.get("pidns") != _pid_namespace():
                return False  # another machine's, or container's: its pids are not ours
            if named.get("boot") != _boot_id():
                return True  # the machine has started again since
            fields = _stat_fields(pid)
            # A zombie has ended, and waits for its parent to read how.
            return fields is None or int(fields[START]) != named["start"] or fields[0] == "Z"
        started = float(named["started"])
    except (ValueError, TypeError, KeyError):
        return False
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


@functools.cache
def _boot_id() -> str | None:
    return _first_line(PROC / "sys/kernel/random/boot_id")


@functools.cache
def _machine_id() -> str | None:
    return _first_line(Path("/etc/machine-id")) or _first_line(Path("/var/lib/dbus/machine-id"))


def _first_line(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def _pid_namespace() -> str | None:
    try:
        return os.readlink(PROC / "self/ns/pid")
    except OSError:
        return None


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/PID/stat from its state on: the command name before it may hold spaces and
    parentheses. None where there is no such process, or no /proc."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()
