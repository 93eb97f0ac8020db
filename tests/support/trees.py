"""Real process trees of a given shape, for the tree readers' tests and bench/sampler_cost.py.

A shape is a dict: "kids" (shapes of its children), "spin" (CPU seconds to burn before it
is ready), "busy" (to burn CPU once ready, until the end), "name" (a process name to take),
"detach" (a child that double-forks into a session of its own and exits, leaving its one
kid to init, as a daemon does). Every
process says it is ready on the root's standard output, then idles until the root's
standard input closes; it reaps a child as soon as that ends.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

SCRIPT = r"""
import ctypes, json, os, select, signal, sys, time

def reap(*_):
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass

def run(node):
    kids = [fork(kid) for kid in node.get("kids", [])]
    end = time.process_time() + node.get("spin", 0.0)
    while time.process_time() < end:
        pass
    if "name" in node:  # PR_SET_NAME
        ctypes.CDLL(None).prctl(15, node["name"].encode(), 0, 0, 0)
    os.write(1, b".")
    while node.get("busy") and not select.select([0], [], [], 0)[0]:
        pass
    os.read(0, 1)
    for kid in kids:
        reap()
        if kid is not None:
            try:
                os.waitpid(kid, 0)
            except ChildProcessError:
                pass

def fork(node):
    pid = os.fork()
    if pid == 0:
        if node.get("detach"):
            os.setsid()
            middle = os.getpid()
            if os.fork() == 0:
                while os.path.exists(f"/proc/{middle}"):  # until it has ended and is reaped
                    time.sleep(0.002)
                run(node["kids"][0])
            os._exit(0)
        run(node)
        os._exit(0)
    if node.get("detach"):
        reap()  # the middle one exits at once
        return None
    return pid

signal.signal(signal.SIGCHLD, reap)  # a child that ends is reaped at once, as loky's are
os.read(0, 1)  # "go": the caller may first move this process into a cgroup
node = json.loads(sys.argv[1])
run(node)
"""

Shape = dict[str, Any]


def count(shape: Shape) -> int:
    """How many processes say they are ready: the middle one of a detach does not."""
    kids = sum(count(kid) for kid in shape.get("kids", []))
    return kids if shape.get("detach") else 1 + kids


def fan(children: int, grandchildren: int = 0, spin: float = 0.0) -> list[Shape]:
    """`children` idle children, each with `grandchildren` of its own."""
    return [{"kids": [{}] * grandchildren, "spin": spin} for _ in range(children)]


class Tree:
    """A running tree; `pid` is its root. Ends, reaped, on `close`."""

    def __init__(self, shape: Shape, before_go: Callable[[int], object] | None = None):
        self.shape = shape
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SCRIPT, json.dumps(shape)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self.pid = self.proc.pid
        assert self.proc.stdin is not None and self.proc.stdout is not None
        if before_go is not None:
            before_go(self.pid)
        self.proc.stdin.write(b"g")
        self.proc.stdin.flush()
        want = count(shape)
        while want:
            got = os.read(self.proc.stdout.fileno(), want)
            assert got, "the tree ended before it was ready"
            want -= len(got)

    def close(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.proc.stdout.close()

    def __enter__(self) -> Tree:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
