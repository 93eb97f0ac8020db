"""Telling a sweep's ended process from a live one: real processes, ended and alive, and
names of processes on other machines, boots and PID namespaces."""

import json
import subprocess
import sys
import time

import pytest

from cpulab.engine import liveness
from cpulab.engine.liveness import gone, this_process

NAME_ITSELF = [
    sys.executable,
    "-c",
    "from cpulab.engine.liveness import this_process as t; print(t())",
]


def name_of_a_process_that_ended() -> str:
    return subprocess.run(NAME_ITSELF, capture_output=True, text=True, check=True).stdout


def changed(name: str, **fields) -> str:
    return json.dumps({**json.loads(name), **fields})


def test_this_process_is_alive_and_one_that_ended_is_gone():
    assert not gone(this_process())
    assert gone(name_of_a_process_that_ended())


def test_a_child_that_ended_unwaited_is_gone():
    child = subprocess.Popen(
        [*NAME_ITSELF[:2], "import sys; from cpulab.engine.liveness import this_process"
         " as t; print(t(), flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        name = child.stdout.readline()
        assert not gone(name)
        child.stdin.close()  # it ends, a zombie until waited for
        for _ in range(200):
            if gone(name):
                break
            time.sleep(0.02)
        assert gone(name)
    finally:
        child.wait()


def test_a_pid_taken_by_a_later_process_is_gone():
    me = this_process()
    if "start" in json.loads(me):
        assert gone(changed(me, start=json.loads(me)["start"] - 1))
    else:
        assert gone(changed(me, started=json.loads(me)["started"] - 60))


@pytest.mark.skipif(liveness._stat_fields(1) is None, reason="needs /proc")
def test_a_boot_of_this_machine_before_this_one_is_gone():
    assert gone(changed(this_process(), boot="a boot before"))


@pytest.mark.parametrize(
    "elsewhere",
    [
        {"host": "another-host"},
        # The same host name, as two virtual machines called "vm" on one network disk.
        {"machine": "another installation", "boot": "its own boot"},
        {"pidns": "pid:[1]"},  # a container's: its pid 1 is not ours
    ],
    ids=["host", "machine", "pid-namespace"],
)
def test_a_process_of_another_machine_or_container_may_be_alive(elsewhere):
    if "host" not in elsewhere and "start" not in json.loads(this_process()):
        pytest.skip("needs /proc")
    assert not gone(changed(name_of_a_process_that_ended(), **elsewhere))


@pytest.mark.parametrize("name", ["", "not json", "{}", '{"host": 1}', "[1, 2]", '"text"'])
def test_a_name_that_cannot_be_read_may_be_alive(name):
    assert not gone(name)
