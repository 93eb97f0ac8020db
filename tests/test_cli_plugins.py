"""The user's own tasks from the command line: task files and installed plug-ins, run in
real processes; every fault in them is one line and exit status 2."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from plugins.fake_distribution import fake_forest_source, install

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = ROOT / "tests" / "plugins"


def cpulab(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cpulab", *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env=env,
    )


def refused(out: subprocess.CompletedProcess) -> str:
    """The one line of a refusal, after checking that it is one."""
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    lines = out.stderr.splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("cpulab: error: ")
    return lines[0]


@pytest.fixture
def site_env(tmp_path) -> dict[str, str]:
    """An environment whose processes see an installed plug-in and a broken one."""
    site = install(
        tmp_path / "site",
        {
            "fake-forest": "cpulab_fake_forest:build",
            "broken-plugin": "cpulab_broken_plugin:cpulab_task",
        },
        {
            "cpulab_fake_forest": fake_forest_source(),
            "cpulab_broken_plugin": "def cpulab_task(setting)\n    pass\n",
        },
    )
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path}


def test_an_experiment_task_file_runs_with_a_score():
    out = cpulab("run", "--task-file", str(PLUGINS / "forest_cv.py"), "--train", "2", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert (
        doc["task"] == "forest-cv"
        and doc["title"] == "Random forest cross-validation from a task file"
    )
    assert doc["metric"] == "accuracy" and 0.5 < doc["score"] <= 1
    assert doc["details"]["folds"] == 4 and doc["train"] == 2


def test_a_workload_task_file_runs_by_name_and_in_a_sweep():
    task_file = str(PLUGINS / "centroid_workers.py")
    out = cpulab("--task-file", task_file, "sweep", "centroids", "--cores", "1,2",
                 "--repeats", "1", "--warmup", "0", "--json")  # fmt: skip
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["sweep"]["task"] == "centroids" and doc["sweep"]["status"] == "done"
    assert [(p["train"], p["eval"]) for p in doc["points"]] == [(1, 1), (1, 2)]
    assert all(p["score"] > 0.7 for p in doc["points"])


def test_a_class_defined_in_the_task_file_reaches_process_workers():
    out = cpulab("run", "--task-file", str(PLUGINS / "own_classifier.py"), "--eval", "2", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["eval"] == 2 and doc["setup"]["workers"] > 0
    assert doc["score"] > 0.6


def test_the_example_task_file_runs():
    out = cpulab("run", "--task-file", str(ROOT / "docs/examples/my_task.py"), "--train", "2",
                 "--json")  # fmt: skip
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["task"] == "cancer-forest" and doc["score"] > 0.9


def test_tasks_lists_task_files_with_where_they_come_from():
    out = cpulab("tasks", "--task-file", str(PLUGINS / "forest_cv.py"))
    assert out.returncode == 0, out.stderr
    assert "forest-cv" in out.stdout and "rf-train" in out.stdout
    assert "task file" in out.stdout and "takes --data (classification)" in out.stdout


def test_tasks_lists_installed_plug_ins_and_warns_about_broken_ones(site_env):
    out = cpulab("tasks", env=site_env)
    assert out.returncode == 0, out.stderr
    assert "fake-forest" in out.stdout and "plug-in from cpulab-fake-plugins 0.1" in out.stdout
    assert "broken-plugin" not in out.stdout
    assert out.stderr.splitlines() == [
        "cpulab: warning: plug-in broken-plugin (cpulab_broken_plugin:cpulab_task): "
        "line 1: expected ':'"
    ]


def test_an_installed_plug_in_runs_by_name_next_to_a_broken_one(site_env):
    out = cpulab("run", "fake-forest", "--train", "2", "--json", env=site_env)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["task"] == "fake-forest" and doc["score"] > 0.5
    out = cpulab("run", "rf-train", "--json", env=site_env)
    assert out.returncode == 0, out.stderr


def test_running_a_broken_plug_in_says_what_is_wrong_with_it(site_env):
    line = refused(cpulab("run", "broken-plugin", env=site_env))
    assert line == (
        "cpulab: error: plug-in broken-plugin (cpulab_broken_plugin:cpulab_task): "
        "line 1: expected ':'"
    )


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ('"""Broken."""\n\ndef cpulab_task(setting)\n    pass\n', "line 3: expected ':'"),
        ("def build(setting):\n    pass\n", "no function cpulab_task"),
        ("NAME = 'rf-train'\ncpulab_task = None\n", "the task name 'rf-train' is taken"),
        ("def cpulab_task(setting):\n    pass\n\n1 / 0\n", "importing it raised ZeroDivisionError"),
        ("def cpulab_task(setting):\n    return None\n", "cpulab_task returned NoneType"),
        (
            "import sys\nsys.exit('bye')\ndef cpulab_task(setting):\n    pass\n",
            "importing it raised SystemExit: bye (my_task.py, line 2)",
        ),
    ],
)
def test_a_broken_task_file_is_one_line_and_exit_2(tmp_path, source, problem):
    path = tmp_path / "my_task.py"
    path.write_text(source)
    line = refused(cpulab("run", "--task-file", str(path)))
    assert line.startswith(f"cpulab: error: {path}") and problem in line


def test_an_estimator_that_fails_to_fit_fails_the_run_with_its_own_error(tmp_path):
    path = tmp_path / "failing_fit.py"
    path.write_text(
        "import numpy as np\n"
        "from sklearn.base import BaseEstimator, ClassifierMixin\n"
        "from cpulab.api import Experiment\n"
        "KNOBS = ('eval',)\n"
        "class Refuses(ClassifierMixin, BaseEstimator):\n"
        "    def fit(self, X, y):\n"
        "        print('fitting my model')\n"
        "        raise ValueError('this model cannot fit')\n"
        "def cpulab_task(setting):\n"
        "    X = np.arange(40.0).reshape(20, 2)\n"
        "    return Experiment(Refuses(), X, X[:, 0] > 20, cv=2)\n"
    )
    done = cpulab("run", "--task-file", str(path))
    assert done.returncode == 1
    first, *rest = done.stderr.splitlines()
    assert first == "cpulab: ValueError: this model cannot fit"
    # What the task printed, then the traceback from its own frame.
    assert rest[:2] == ["The run's own output, its last lines:", "fitting my model"]
    assert rest[2:4] == ["Traceback (most recent call last):", f'  File "{path}", line 8, in fit']


def test_a_missing_task_file_is_one_line_and_exit_2(tmp_path):
    line = refused(cpulab("sweep", "--task-file", str(tmp_path / "gone.py")))
    assert line == f"cpulab: error: {tmp_path / 'gone.py'}: no such task file"


def test_run_without_a_task_or_task_file_is_one_line_and_exit_2():
    line = refused(cpulab("run"))
    assert "name the task to run" in line


DATA_TASK = '''"""A tree on your rows.

A decision tree scored by 4-fold cross-validation on the rows --data gives.
"""

from sklearn.tree import DecisionTreeClassifier

from cpulab.api import Experiment, Setting

DATA_KIND = "classification"


def cpulab_task(setting: Setting) -> Experiment:
    data = setting.data
    return Experiment(DecisionTreeClassifier(random_state=0), data.X, data.y, cv=4)
'''


def test_a_task_file_that_declares_a_data_kind_runs_on_the_users_rows(tmp_path):
    task_file = tmp_path / "tree_task.py"
    task_file.write_text(DATA_TASK)
    rows = "".join(f"{i % 7},{(i * 3) % 5},{'yes' if i % 7 > 3 else 'no'}\n" for i in range(80))
    (tmp_path / "rows.csv").write_text("a,b,label\n" + rows)
    out = cpulab(
        "run", "--task-file", str(task_file), "--data", str(tmp_path / "rows.csv"),
        "--target", "label", "--json",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["variant"] == "rows.csv:label" and result["details"]["folds"] == 4
    regression = tmp_path / "amounts.csv"
    regression.write_text("a,amount\n1,2.5\n2,3.5\n3,4.5\n")
    line = refused(cpulab("run", "--task-file", str(task_file), "--data", str(regression),
                          "--target", "amount"))  # fmt: skip
    assert "tree-task needs a classification target; amount holds numbers" in line
