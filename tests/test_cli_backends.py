"""--backend, --blas-threads and --dask as a user meets them: real cpulab processes, one line
and exit status 2 for every bad input, within seconds for a scheduler nobody answers at."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import pytest

from support.cli import cpulab


def closed_port() -> int:
    """A local port nothing listens on: bound and released at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_refused(out: subprocess.CompletedProcess, says: str) -> None:
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    assert len(out.stderr.splitlines()) == 1, out.stderr
    assert out.stderr.startswith("cpulab")
    assert says in out.stderr
    assert out.stdout == ""


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--backend", "fork"), "unknown backend 'fork': choose loky, threading, multiprocessing"),
        (("--backend", "dask"), "the dask backend needs a cluster"),
        (("--blas-threads", "0"), "BLAS threads must be at least 1, not 0"),
        (("--blas-threads", "-2"), "BLAS threads must be at least 1, not -2"),
        (("--blas-threads", "two"), "argument --blas-threads: expected a whole number, not 'two'"),
        (("--dask", "local:2", "--backend", "threading"), "not threading: leave --backend out"),
        (("--dask", "local:2", "--backend", "multiprocessing"), "not multiprocessing"),
        (("--dask", "local:0"), "a local Dask cluster takes 1 to 1024 workers, not 0"),
        (("--dask", "local:abc"), "cannot read 'local:abc': local:N takes a number of workers"),
        (("--dask", "tcp://scheduler"), "cannot read Dask address 'tcp://scheduler'"),
        (("--dask", "scheduler:99999"), "cannot read Dask address 'scheduler:99999'"),
        (("--dask", "local:2", "--eval", "2"), "joblib ignores n_jobs on Dask"),
    ],
)
def test_bad_execution_options_are_one_line_and_exit_2(args, says):
    assert_refused(cpulab("run", "cv-eval", *args), says)


def test_a_sweep_on_dask_is_refused():
    out = cpulab("sweep", "cv-eval", "--dask", "local:2")
    assert_refused(out, "a sweep cannot run on Dask: joblib ignores n_jobs there")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--workers", "1,2"), "--workers sweeps the size of a Dask cluster: give --dask"),
        (("--dask", "local:2", "--workers", "1,x"), "--workers: cannot read core count 'x'"),
        (("--dask", "local:2", "--workers", "0,1"), "--workers: core counts start at 1, not 0"),
        (("--dask", "local:2", "--workers", "2-1"), "--workers: the range 2-1 runs backwards"),
        (("--dask", "local:2", "--workers", "1,4"), "local:2 starts 2 workers: a point of 4"),
        (("--dask", "local:2", "--workers", "1,2", "--strategy", "grid"), "leave --strategy out"),
    ],
)
def test_bad_cluster_size_sweeps_are_one_line_and_exit_2(args, says):
    assert_refused(cpulab("sweep", "cv-eval", *args), says)


def test_dask_without_distributed_says_what_to_install():
    # A None in sys.modules is how Python marks a module that cannot be imported.
    code = (
        "import sys; sys.modules['distributed'] = None\n"
        "from cpulab.cli import main\n"
        "sys.exit(main(['run', 'cv-eval', '--dask', 'local:2']))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert_refused(out, "pip install 'cpulab[dask]'")


def test_an_unreachable_scheduler_is_bad_input_within_ten_seconds():
    address = f"tcp://127.0.0.1:{closed_port()}"
    started = time.monotonic()
    out = cpulab("run", "cv-eval", "--dask", address, timeout=30)
    assert time.monotonic() - started < 10
    assert_refused(out, f"cannot reach the Dask scheduler at {address}")


def test_threading_with_one_blas_thread_is_recorded():
    out = cpulab("run", "cv-eval", "--eval", "2", "--backend", "threading", "--blas-threads", "1",
                 "--json")  # fmt: skip
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["options"]["backend"] == "threading" and doc["options"]["blas_threads"] == 1
    assert doc["variant"] == "threading BLAS 1"
    assert {pool["num_threads"] for pool in doc["threads"]["runner"]} == {1}
    assert doc["threads"]["workers"] == []
