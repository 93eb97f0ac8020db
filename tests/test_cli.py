"""The command line as a user meets it: real processes, real exit statuses."""

import json
import os
import signal
import subprocess
import sys
import time

import psutil

from support.cli import cpulab
from support.reliability import default_signals


def test_tasks_lists_the_six_tasks():
    out = cpulab("tasks")
    assert out.returncode == 0, out.stderr
    for name in ("rf-train", "cv-eval", "grid-search", "compare-regressors", "digits-svc",
                 "compare-classifiers"):  # fmt: skip
        assert name in out.stdout


def test_run_json_prints_one_document_with_time_and_score():
    out = cpulab("run", "rf-train", "--scale", "small", "--train", "1", "--eval", "1", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["fit_time"] > 0
    assert 0 < doc["score"] <= 1
    assert doc["metric"] == "accuracy"
    assert doc["train"] == doc["eval"] == 1
    assert doc["machine"]["cpu_model"]


def test_run_on_a_terminal_less_stdout_prints_a_summary():
    out = cpulab("run", "digits-svc", "--eval", "-1")
    assert out.returncode == 0, out.stderr
    assert "fit time" in out.stdout and "accuracy" in out.stdout


def test_unknown_task_names_the_choices():
    out = cpulab("run", "rf-trian")
    assert out.returncode == 2
    assert out.stderr.strip() == (
        "cpulab: error: unknown task 'rf-trian': choose one of rf-train, cv-eval, "
        "grid-search, compare-regressors, compare-classifiers, digits-svc"
    )


def test_ctrl_c_while_a_command_loads_cancels_without_a_traceback():
    # A command's module loads only when that command runs, where Ctrl-C cancels as later.
    code = (
        "import sys\n"
        "class Interrupt:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'cpulab.cli.tasks':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Interrupt())\n"
        "from cpulab.cli import main\n"
        "sys.exit(main(['tasks']))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 130
    assert out.stderr == "cpulab: cancelled\n"


def test_ctrl_c_kills_the_whole_tree_and_exits_130():
    proc = subprocess.Popen(
        [sys.executable, "-m", "cpulab", "run", "cv-eval", "--scale", "full", "--eval", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        preexec_fn=default_signals,
    )
    cli = psutil.Process(proc.pid)
    tree: set[int] = set()
    deadline = time.monotonic() + 30
    # Wait for the runner child and both of its loky workers.
    while time.monotonic() < deadline and len(tree) < 3:
        time.sleep(0.2)
        tree = {p.pid for p in cli.children(recursive=True)}
    assert len(tree) >= 3, "the run never started its workers"
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 130
    assert b"Traceback" not in stderr
    time.sleep(0.2)
    survivors = [
        pid
        for pid in tree
        if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    ]
    assert not survivors


def test_no_command_off_a_terminal_runs_a_headless_demo():
    env = dict(os.environ, LOKY_MAX_CPU_COUNT="1")  # one point keeps this test short
    out = subprocess.run(
        [sys.executable, "-m", "cpulab"],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert "Random forest training" in out.stdout and "speedup" in out.stdout


def test_a_repeatable_option_adds_up_from_both_sides_of_the_command():
    from cpulab.cli.parser import build_parser

    parse = build_parser().parse_args
    both = parse(
        ["--task-file", "a.py", "--drop", "x", "run", "--task-file", "b.py", "--drop", "y"]
    )
    assert [str(path) for path in both.task_files] == ["a.py", "b.py"]
    assert both.drop == ["x", "y"]
    assert parse(["--drop", "x", "run"]).drop == ["x"]
    assert parse(["run", "--drop", "y"]).drop == ["y"]
    assert parse(["run"]).drop == [] and parse(["tasks"]).task_files == []
