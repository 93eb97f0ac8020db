"""`cpulab advise` with real runners: it measures within its budget, stores every run and
its advice, and refuses bad input in one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import replace

import pytest

from cpulab import cli
from cpulab.cli import advise as advise_cli
from cpulab.engine.cores import available_cores
from cpulab.engine.session import Outcome
from cpulab.engine.store import ResultStore
from support.cli import cpulab
from support.reliability import default_signals
from support.runs import wait_for_runs
from support.store import result

# The first batch (1 x 1 and 1 x 2, twice each) takes about 5 s on a quiet machine, and
# more than 10 s on a slow hour's virtual machine running other tests beside it: the search
# settles well within this, and must have measured both by its end.
BUDGET = 25.0


@pytest.fixture(scope="module")
def advised(tmp_path_factory):
    db = tmp_path_factory.mktemp("advise") / "results.db"
    done = cpulab(
        "advise", "cv-eval", "--scale", "small", "--budget", f"{BUDGET:g}s",
        "--repeats", "2", "--warmup", "0", "--json", "--db", str(db),
    )  # fmt: skip
    return db, done


def test_advice_is_measured_within_the_budget_and_printed_as_json(advised):
    _, done = advised
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["id"] == 1 and document["task"] == "cv-eval"
    best = document["best"]["setting"]
    assert best["train"] * best["eval"] <= 2
    assert document["stopped"] in ("settled", "budget")
    # A batch still running when the budget ends is cancelled: a second of grace for that.
    assert document["spent"] <= BUDGET + 1.5
    measured = {(t["setting"]["train"], t["setting"]["eval"]) for t in document["trials"]}
    assert (1, 1) in measured and (1, 2) in measured
    assert document["baseline"]["setting"]["cores"] == 1
    assert any("n_jobs=" in line for line in document["code"])


def test_every_run_is_stored_in_sweeps_and_the_advice_names_them(advised):
    db, done = advised
    document = json.loads(done.stdout)
    with ResultStore.open(db, readonly=True) as store:
        sweeps = store.sweeps()
        [advice] = store.advice()
        points = store.points()
    assert [s.id for s in sweeps] == document["sweeps"]
    assert {s.strategy for s in sweeps} == {"advise"}
    runs = sum(len(p.result.fit_times) for p in points)
    assert runs == sum(len(t["times"]) for t in document["trials"])
    assert advice.task == "cv-eval" and advice.status == document["stopped"]
    assert advice.record["best"] == document["best"]


def test_history_lists_the_advice(advised):
    db, _ = advised
    listed = cpulab("history", "--advice", "--db", str(db))
    assert listed.returncode == 0, listed.stderr
    assert "advice #1" in listed.stdout and "cv-eval (small)" in listed.stdout


def test_a_budget_too_short_for_one_run_says_so(tmp_path):
    done = cpulab("advise", "cv-eval", "--budget", "0.2s", "--db", str(tmp_path / "r.db"))
    assert done.returncode == 2
    *steps, error = done.stderr.splitlines()
    assert all(step.startswith("advise: ") for step in steps)
    assert error.startswith("cpulab: error: the budget of 0.2 s ended before the first run did")
    with ResultStore.open(tmp_path / "r.db", readonly=True) as store:
        assert store.sweeps() == []  # refused before it measured anything: no trace


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--budget", "soon"), "expected a duration such as 90s, 2m or 1h30m, not 'soon'"),
        (("--budget", "0"), "a budget is more than no time at all, not '0'"),
        (("--budget", "2m30x"), "expected a duration"),
        (("--max-cores", "0"), "--max-cores is at least 1, not 0"),
        (("--max-cores", "64"), "--allow-oversubscribe"),
        (("--max-cores", "9999"), "beyond any machine"),
        (("--blas", "--blas-threads", "2"), "--blas searches the BLAS threads"),
        (("--blas", "0"), "core counts start at 1"),
        # More BLAS threads than 4 a core: refused before the search prints its curve.
        (("--blas", f"1,{4 * available_cores() + 1}"), "BLAS threads is too many for the"),
        (("--dask", "local:2"), "not a cluster's: sweep its sizes"),
        (("no-such-task",), "no-such-task"),
    ],
)
def test_bad_input_is_one_line_and_status_2(tmp_path, args, says):
    task = () if args[0] == "no-such-task" else ("cv-eval",)
    done = cpulab("advise", *task, *args, "--db", str(tmp_path / "r.db"))
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("cpulab"), done.stderr
    assert says in done.stderr
    assert not (tmp_path / "r.db").exists() or not ResultStore.open(tmp_path / "r.db").sweeps()


def test_sigterm_during_a_batch_keeps_the_best_so_far(tmp_path):
    db = tmp_path / "r.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "cpulab", "advise", "cv-eval", "--budget", "5m",
         "--warmup", "0", "--db", str(db)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
        preexec_fn=default_signals,
    )  # fmt: skip
    try:
        measured = wait_for_runs(db, 1)
        assert measured >= 1, "the search never got going"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM
    assert "cpulab: interrupted by SIGTERM" in err
    assert "search: interrupted after" in out and "recommended: training" in out
    with ResultStore.open(db) as store:
        [advice] = store.advice()
        sweeps = store.sweeps()
    assert advice.status == "interrupted" and sweeps[-1].status == "interrupted"


def test_ctrl_c_between_batches_stops_before_the_next(tmp_path, monkeypatch, capsys):
    batches = []

    def measured(session):
        # Each point once, at 1 / cores seconds; then Ctrl-C, as the batch has just ended.
        results = tuple(
            replace(result(t, e, task="cv-eval"), fit_times=[1.0 / (t * e)] * spec.repeats)
            for spec in session.points
            for t, e in [(spec.train, spec.eval)]
        )
        batches.append(results)
        os.kill(os.getpid(), signal.SIGINT)
        return Outcome("done", results[-1], results, None)

    monkeypatch.setattr(advise_cli, "run_in_terminal", lambda session, quiet: measured(session))
    status = cli.main(["advise", "cv-eval", "--budget", "5m", "--db", str(tmp_path / "r.db")])
    out, err = capsys.readouterr()
    assert status == 130 and len(batches) == 1  # no batch after the Ctrl-C
    assert "search: cancelled after" in out and "cpulab: cancelled" in err
    with ResultStore.open(tmp_path / "r.db") as store:
        [advice] = store.advice()
    assert advice.status == "cancelled"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back
