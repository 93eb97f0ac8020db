"""Telling a sweep's ended process from a live one: real processes, ended, alive and
zombie, and names of processes on other machines, boots and PID namespaces, or hidden."""

import json
import os
import subprocess
import sys
import time

import psutil
import pytest

from cpulab.engine import liveness
from cpulab.engine.liveness import gone, this_process

NAME_ITSELF = "from cpulab.engine.liveness import this_process; print(this_process(), flush=True)"
ON_PROC = liveness._stat(os.getpid()) is not None
needs_proc = pytest.mark.skipif(not ON_PROC, reason="needs /proc")


def name_of_a_process_that_ended() -> str:
    done = subprocess.run([sys.executable, "-c", NAME_ITSELF], capture_output=True, text=True)
    return done.stdout


def changed(name: str, **fields) -> str:
    return json.dumps({**json.loads(name), **fields})


def test_this_process_is_alive_and_one_that_ended_is_gone():
    assert not gone(this_process())
    assert gone(name_of_a_process_that_ended())


def test_a_child_that_ended_unwaited_is_gone():
    child = subprocess.Popen(
        [sys.executable, "-c", f"import sys; {NAME_ITSELF}; sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        name = child.stdout.readline()
        assert not gone(name)
        child.stdin.close()  # it ends, a zombie until waited for
        deadline = time.monotonic() + 30
        while not gone(name) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert gone(name)
    finally:
        child.wait()


def test_a_pid_taken_by_a_later_process_is_gone():
    me = json.loads(this_process())
    if ON_PROC:
        assert gone(changed(this_process(), start=me["start"] - 1))
    else:
        assert gone(changed(this_process(), started=me["started"] - 60))


def test_where_there_is_no_proc_psutil_tells():
    started = psutil.Process().create_time()
    assert not gone(json.dumps({"host": json.loads(this_process())["host"], "pid": os.getpid(),
                                "started": started}))  # fmt: skip
    ended = json.loads(name_of_a_process_that_ended())
    assert gone(json.dumps({"host": ended["host"], "pid": ended["pid"], "started": started}))


@needs_proc
def test_a_boot_before_this_one_of_this_installation_is_gone(monkeypatch):
    assert gone(changed(this_process(), boot="a boot before"))
    # Without an installation's id to compare, another boot may be another machine's.
    monkeypatch.setattr(liveness, "_machine_id", lambda: None)
    assert not gone(changed(this_process(), boot="a boot before"))


@pytest.mark.parametrize(
    "elsewhere",
    [
        {"host": "another-host"},
        # The same host name, as a store copied from a virtual machine also called "vm".
        {"machine": "another installation", "boot": "its own boot"},
        {"pidns": "pid:[1]"},  # a container's: its pid 1 is not ours
    ],
    ids=["host", "machine", "pid-namespace"],
)
def test_a_process_of_another_machine_or_container_may_be_alive(elsewhere):
    if "host" not in elsewhere and not ON_PROC:
        pytest.skip("needs /proc")
    assert not gone(changed(name_of_a_process_that_ended(), **elsewhere))


@needs_proc
def test_a_process_hidden_from_this_user_is_alive_while_it_can_be_signalled(monkeypatch, tmp_path):
    ended = name_of_a_process_that_ended()
    # /proc mounted with hidepid=2: another user's processes have no entry there at all.
    monkeypatch.setattr(liveness, "PROC", str(tmp_path))
    assert not gone(this_process())  # kill(pid, 0) finds it
    assert gone(ended)


@needs_proc
def test_a_process_whose_stat_may_not_be_read_may_be_alive(monkeypatch):
    # /proc mounted with hidepid=1, or a security module's refusal.
    def refused(path):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(liveness, "_read", refused)
    assert not gone(name_of_a_process_that_ended())


@pytest.mark.parametrize("pid", [0, -1, 2**70, "x", None])
def test_a_pid_no_process_can_have_is_not_found_gone(pid):
    assert not gone(changed(this_process(), pid=pid))


@pytest.mark.parametrize("name", ["", "not json", "{}", '{"host": 1}', "[1, 2]", '"text"'])
def test_a_name_that_cannot_be_read_may_be_alive(name):
    assert not gone(name)


def test_an_unreadable_machine_id_names_the_process_all_the_same(tmp_path):
    garbled = tmp_path / "machine-id"
    garbled.write_bytes(b"\xff\xfe\x00 not text\n")
    assert liveness._first_line(garbled)  # read, not raised: this_process never fails
