"""Sweeps, history and export from the command line, with real runs and a real store."""

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import psutil
import pytest

from cpulab.engine.store import OWNER_GONE, ResultStore
from support.cli import cpulab
from support.reliability import default_signals
from support.runs import wait_for_runs


def test_sweep_json_has_statistics_and_fit_and_is_stored(results_store):
    out = cpulab("sweep", "rf-train", "--cores", "1,2", "--repeats", "3", "--warmup", "0", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["sweep"]["status"] == "done"
    assert [(p["train"], p["eval"]) for p in doc["points"]] == [(1, 1), (2, 1)]
    assert all(len(p["fit_times"]) == 3 for p in doc["points"])
    analysis = doc["analysis"]
    assert analysis["points"][0]["speedup"] == 1.0
    assert analysis["points"][1]["karp_flatt"] is not None
    assert analysis["fit"]["serial_fraction"] is not None
    assert analysis["best"]["cores"] in (1, 2)
    model = doc["model"]  # two core counts: Amdahl's law, and a warning that more are needed
    assert model["chosen"] == "amdahl" and model["usl"] is None
    available = doc["points"][0]["available"]
    beyond = [p["cores"] for p in model["predictions"] if p["beyond_machine"]]
    assert beyond and all(cores > available for cores in beyond)  # predicted up to twice
    assert any("core counts were measured" in w for w in model["warnings"])
    with ResultStore.open(results_store) as store:
        assert len(store.points(sweep_id=doc["sweep"]["id"])) == 2
        [sweep] = store.sweeps()
    assert sweep.status == "done"
    assert sweep.model == model  # stored as it ended: exports read it, not fit it again


def test_sweep_prints_a_closing_table_and_history_and_every_export_format(tmp_path):
    # One sweep for both: the table it prints, then the history and exports of what it stored.
    out = cpulab("sweep", "rf-train", "--cores", "1,2", "--repeats", "2", "--warmup", "0")
    assert out.returncode == 0, out.stderr
    for words in ("speedup", "efficiency", "Karp-Flatt", "serial fraction", "best:", "model:",
                  "knee:"):  # fmt: skip
        assert words in out.stdout
    assert cpulab("run", "digits-svc", "--json").returncode == 0

    history = cpulab("history")
    assert history.returncode == 0, history.stderr
    assert "rf-train" in history.stdout and "digits-svc" in history.stdout
    only = cpulab("history", "--task", "digits-svc")
    assert "rf-train" not in only.stdout and "digits-svc" in only.stdout
    assert "No stored results" in cpulab("history", "--machine", "no-such-host").stdout

    doc = json.loads(cpulab("export", "--format", "json").stdout)
    assert doc["format"] == "cpulab-export" and doc["version"] == 2
    (sweep,) = doc["sweeps"]
    assert len(sweep["points"]) == 2
    assert sweep["analysis"]["fit"]["speedup_ceiling"] is None or (
        sweep["analysis"]["fit"]["speedup_ceiling"] > 0
    )
    assert sweep["points"][0]["stats"]["n"] == 2
    assert [run["result"]["task"] for run in doc["runs"]] == ["digits-svc"]
    assert doc["machines"] and doc["machines"][0]["facts"]["cpu_model"]

    out = tmp_path / "results.csv"
    assert cpulab("export", "--format", "csv", "--out", str(out)).returncode == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [(r["task"], r["train"], r["strategy"]) for r in rows] == [
        ("rf-train", "1", "train"),
        ("rf-train", "2", "train"),
        ("digits-svc", "1", ""),
    ]
    assert float(rows[1]["speedup"]) > 0 and rows[2]["speedup"] == ""

    markdown = cpulab("export", "--format", "markdown").stdout
    assert "## Sweep 1: rf-train (small), strategy train" in markdown
    assert "| cores | split |" in markdown and "## Single runs" in markdown


@pytest.mark.parametrize(
    ("signum", "exit_status", "sweep_status"),
    [
        # It never gets to say how it ended: read as interrupted once its process is gone.
        (signal.SIGKILL, -signal.SIGKILL, "interrupted"),
        (signal.SIGINT, 130, "cancelled"),  # Ctrl-C
        (signal.SIGTERM, 128 + signal.SIGTERM, "interrupted"),
        (signal.SIGHUP, 128 + signal.SIGHUP, "interrupted"),  # the SSH session dropped
    ],
    ids=["kill-9", "ctrl-c", "sigterm", "sighup"],
)
def test_a_sweep_cut_short_keeps_exactly_the_finished_points(
    results_store, tmp_path, signum, exit_status, sweep_status
):
    # digits-svc at full scale: the second point (worker start-up, then about half a
    # second of fitting) is still running well after the first is committed.
    errors = tmp_path / "stderr"
    proc = subprocess.Popen(
        [sys.executable, "-m", "cpulab", "sweep", "digits-svc", "--scale", "full",
         "--cores", "1,2", "--repeats", "1", "--warmup", "0", "--json"],
        stdout=subprocess.DEVNULL, stderr=errors.open("w"), stdin=subprocess.DEVNULL,
        preexec_fn=default_signals,
    )  # fmt: skip
    cli = psutil.Process(proc.pid)
    tree: set[int] = set()
    finished = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and finished == 0:
        tree |= {p.pid for p in cli.children(recursive=True)}
        if results_store.exists():  # looked at as an onlooker would: read-only
            with ResultStore.open(results_store, readonly=True) as store:
                finished = len(store.points())
        time.sleep(0.02)
    assert finished == 1, f"the first point never finished: {errors.read_text()!r}"
    tree |= {p.pid for p in cli.children(recursive=True)}
    with ResultStore.open(results_store) as store:  # a writer here ends no live sweep
        assert store.sweeps()[0].status == "running"
    os.kill(proc.pid, signum)
    assert proc.wait(10) == exit_status

    with ResultStore.open(results_store, readonly=True) as store:
        (read,) = store.sweeps()
    with ResultStore.open(results_store) as store:
        assert len(store.points()) == finished
        (sweep,) = store.sweeps()
    assert sweep.status == read.status == sweep_status
    # Where the sweep never said how it ended, the first writer to open the store says so.
    assert (sweep.error == OWNER_GONE) is (signum == signal.SIGKILL)
    assert sweep.analysed
    # The CLI killed the tree on Ctrl-C; after kill -9, the runner noticed its parent had
    # gone and took its workers down with it.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(psutil.pid_exists(p) for p in tree):
        time.sleep(0.1)
    survivors = [p for p in tree if psutil.pid_exists(p)
                 and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]  # fmt: skip
    assert not survivors


def test_the_app_refuses_a_corrupt_store_before_it_opens(tmp_path, monkeypatch, capsys):
    from cpulab import cli

    bad = tmp_path / "corrupt.sqlite"
    bad.write_text("not a database at all\n")
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)

    def never(**options):
        raise AssertionError("the app opened on a corrupt store")

    monkeypatch.setattr("cpulab.ui.app.run_app", never)
    assert cli.main(["--db", str(bad)]) == 2
    assert "is not a cpulab results store" in capsys.readouterr().err
    assert bad.read_text() == "not a database at all\n"


RAISING_TASK = '''"""Breaks in its measured call, as a workload with a bug would."""

from cpulab.api import Workload


def cpulab_task(setting):
    def call():
        raise RuntimeError("the workload broke")

    return Workload(call=call, score=lambda _: (None, {}), progress_unit="steps",
                    progress_total=None)
'''


def test_a_sweep_whose_runner_raises_is_stored_as_failed_with_its_error(tmp_path):
    task_file = tmp_path / "raising.py"
    task_file.write_text(RAISING_TASK)
    swept = cpulab("sweep", "--task-file", str(task_file), "--cores", "1,2",
                   "--repeats", "1", "--warmup", "0")  # fmt: skip
    assert swept.returncode == 1
    assert "cpulab: RuntimeError: the workload broke" in swept.stderr
    assert "Traceback" in swept.stderr  # the runner's, for the user to debug the task

    listed = cpulab("history")
    assert "No results stored yet" in listed.stdout  # a failed sweep measured nothing
    with ResultStore.open() as store:
        (sweep,) = store.sweeps()
    assert (sweep.status, sweep.error) == ("failed", "RuntimeError: the workload broke")

    as_json = cpulab("sweep", "--task-file", str(task_file), "--cores", "1", "--repeats", "1",
                     "--warmup", "0", "--json")  # fmt: skip
    document = json.loads(as_json.stdout)
    assert as_json.returncode == 1
    assert document["sweep"]["status"] == "failed" and document["points"] == []
    assert document["error"]["type"] == "RuntimeError"


def test_a_sweep_stopped_by_sigterm_halfway_keeps_every_run_it_measured(results_store):
    proc = subprocess.Popen(
        [sys.executable, "-m", "cpulab", "sweep", "cv-eval", "--cores", "1,2",
         "--repeats", "40", "--warmup", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
        preexec_fn=default_signals,
    )  # fmt: skip
    try:
        measured = wait_for_runs(results_store, 6)
        assert measured >= 6, "the sweep never got going"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM
    assert "cpulab: interrupted by SIGTERM" in err
    assert "interrupted: 0 of 2 points done, 2 partial" in " ".join(out.split())
    with ResultStore.open(results_store) as store:
        points = store.points()
        (sweep,) = store.sweeps()
    assert sweep.status == "interrupted"
    assert [p.result.partial for p in points] == [True, True]
    assert sum(len(p.result.fit_times) for p in points) >= measured
    listed = cpulab("history")
    assert listed.stdout.count("partial") == 2
    assert "strategy eval, 40 repeats, interrupted" in listed.stdout


def test_a_sweep_whose_store_is_deleted_midway_says_so_and_fails(tmp_path):
    folder = tmp_path / "store"
    db = folder / "results.sqlite"
    proc = subprocess.Popen(
        # 3 points on 2 cores, a run each: two runs, with their workers' start-up, are still
        # to come when the first point is seen stored.
        [sys.executable, "-m", "cpulab", "sweep", "cv-eval", "--cores", "1-3", "--repeats", "1",
         "--warmup", "0", "--db", str(db), "--allow-oversubscribe"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if db.exists():
                with ResultStore.open(db) as store:
                    if store.points():
                        break
            time.sleep(0.05)
        shutil.rmtree(folder)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 1
    assert "cpulab: warning: not saved: " in err and "was deleted or replaced while open" in err
    assert "1 x 3" in out  # what was measured is still reported
