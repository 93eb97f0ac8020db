"""The user's own tasks: described from their source without running it, catalogued next to
the built-ins, and run for real in the runner child."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cpulab.engine.cores import CoreSplit
from cpulab.engine.errors import UsageError
from cpulab.engine.events import Error, Result
from cpulab.engine.plugins import (
    describe,
    experiment_workload,
    load_catalogue,
    task_file_task,
)
from cpulab.engine.spec import RunSpec
from cpulab.engine.supervisor import Supervisor
from cpulab.engine.tasks import CATALOGUE
from plugins.fake_distribution import fake_forest_source, install

PLUGINS = Path(__file__).parents[1] / "plugins"
BROKEN_MODULE = "def cpulab_task(setting)\n    pass\n"


def task_file(directory: Path, name: str, source: str) -> Path:
    path = directory / name
    path.write_text(source)
    return path


@pytest.fixture
def site(tmp_path, monkeypatch) -> Path:
    """An installed distribution offering a working plug-in, a broken one and one whose
    name a built-in task already has, on the path of this process."""
    site = install(
        tmp_path / "site",
        {
            "fake-forest": "cpulab_fake_forest:build",
            "broken-plugin": "cpulab_broken_plugin:cpulab_task",
            "rf-train": "cpulab_fake_forest:build",
        },
        {"cpulab_fake_forest": fake_forest_source(), "cpulab_broken_plugin": BROKEN_MODULE},
    )
    monkeypatch.syspath_prepend(str(site))
    return site


def test_description_comes_from_docstring_and_literals():
    source = '''"""My task.

    What it runs,
    over two lines.

    A second paragraph.
    """
    NAME = "mine"
    KNOBS = ("eval",)
    METRIC: str = "rmse"

    def cpulab_task(setting):
        pass
    '''
    described = describe(source.replace("\n    ", "\n"), "my_task.py", "cpulab_task")
    assert described.name == "mine"
    assert described.title == "My task"
    assert described.description == "What it runs, over two lines.\n\nA second paragraph."
    assert described.knobs == {"eval"}
    assert described.metric == "rmse"


def test_a_task_file_has_defaults_for_what_it_leaves_out(tmp_path):
    path = task_file(tmp_path, "quick_check.py", "def cpulab_task(setting):\n    pass\n")
    task = task_file_task(path)
    assert task.name == "quick-check"
    assert task.title == "quick-check" and task.description == ""
    assert task.knobs == {"train", "eval"} and task.metric == "score"
    assert task.builder == f"{path.resolve()}:cpulab_task"
    assert task.origin == f"task file {path}"


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("def cpulab_task(setting)\n    pass\n", "bad.py: line 1: expected ':'"),
        ("def build(setting):\n    pass\n", "bad.py: no function cpulab_task"),
        ("KNOBS = ('train', 'gpu')\ncpulab_task = None\n", "KNOBS must hold one or both"),
        ("KNOBS = 'train'\ncpulab_task = None\n", "KNOBS must be a tuple"),
        ("\n\nMETRIC = str(1)\ncpulab_task = None\n", "bad.py: line 3: METRIC must be a plain"),
        ("NAME = 'two words'\ncpulab_task = None\n", "'two words' cannot be a task name"),
        ("NAME = 'rf-train'\ncpulab_task = None\n", "the task name 'rf-train' is taken"),
    ],
)
def test_a_broken_task_file_is_bad_input_naming_the_file(tmp_path, source, problem):
    path = task_file(tmp_path, "bad.py", source)
    with pytest.raises(UsageError) as caught:
        load_catalogue([path])
    assert str(caught.value).startswith(str(path)) and problem in str(caught.value)


@pytest.mark.parametrize(
    "encoded",
    [
        b'\xef\xbb\xbf"""Caf\xc3\xa9 timings."""\ndef cpulab_task(setting):\n    pass\n',
        b'# -*- coding: latin-1 -*-\n"""Caf\xe9 timings."""\ndef cpulab_task(setting):\n    pass\n',
    ],
    ids=["utf-8 with a byte order mark", "latin-1 by its coding line"],
)
def test_a_task_file_is_read_as_python_reads_its_encoding(tmp_path, encoded):
    path = tmp_path / "cafe.py"
    path.write_bytes(encoded)
    assert task_file_task(path).title == "Café timings"  # its docstring's first line


@pytest.mark.parametrize(
    ("encoded", "problem"),
    [
        (b"# coding: no-such-codec\ncpulab_task = None\n", "unknown encoding: no-such-codec"),
        (b'"""Caf\xe9."""\ncpulab_task = None\n', "invalid or missing encoding declaration"),
    ],
)
def test_a_task_file_of_no_known_encoding_is_bad_input(tmp_path, encoded, problem):
    path = tmp_path / "cafe.py"
    path.write_bytes(encoded)
    with pytest.raises(UsageError, match=f"cafe.py: cannot read it: {problem}"):
        task_file_task(path)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"cv": 0}, "cannot be cross-validated: k-fold cross-validation requires at least one"),
        ({"cv": "abc"}, "cannot be cross-validated: Expected `cv` as an integer"),
        ({"cv": 100}, "cannot be cross-validated: Cannot have number of splits n_splits=100"),
        ({"y": [0, 1] * 5}, "inconsistent numbers of samples: [40, 10]"),
        ({"scoring": "nope"}, "the Experiment's scoring 'nope' is none of scikit-learn's"),
    ],
)
def test_an_experiment_that_cannot_be_cross_validated_is_bad_input(change, problem):
    # Refused as it is built, before anything is timed, as cross_val_score would refuse it.
    from sklearn.linear_model import LogisticRegression

    from cpulab.api import Experiment, Setting

    X = [[float(i), float(i % 3)] for i in range(40)]
    parts = {"X": X, "y": [i % 2 for i in range(40)], "cv": 3, "scoring": None, **change}
    experiment = Experiment(LogisticRegression(), **parts)
    with pytest.raises(UsageError) as caught:
        experiment_workload(experiment, Setting(train=1, eval=1, scale="small"), "mine.py")
    assert str(caught.value).startswith("mine.py: ") and problem in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_missing_task_file_is_bad_input(tmp_path):
    with pytest.raises(UsageError, match=r"nope\.py: no such task file"):
        load_catalogue([tmp_path / "nope.py"])


def test_catalogue_lists_built_ins_then_plug_ins_then_task_files(site):
    catalogue = load_catalogue([PLUGINS / "forest_cv.py", PLUGINS / "centroid_workers.py"])
    assert list(catalogue.tasks) == [*CATALOGUE, "fake-forest", "forest-cv", "centroids"]
    plugin = catalogue.tasks["fake-forest"]
    assert plugin.title == "Forest training from an installed plug-in"
    assert plugin.knobs == {"train"} and plugin.metric == "accuracy"
    assert plugin.builder == "cpulab_fake_forest:build"
    assert plugin.origin == "plug-in from cpulab-fake-plugins 0.1"
    assert catalogue.tasks["rf-train"] is CATALOGUE["rf-train"]
    with pytest.raises(UsageError, match="name the task to run"):
        catalogue.get(None)


def test_broken_plug_ins_are_left_out_and_reported_one_line_each(site):
    catalogue = load_catalogue()
    assert "broken-plugin" not in catalogue.tasks
    assert catalogue.problems == [
        "plug-in broken-plugin (cpulab_broken_plugin:cpulab_task): line 1: expected ':'",
        "plug-in rf-train (cpulab_fake_forest:build): the task name 'rf-train' is taken "
        "(built-in): rename its entry point",
    ]
    with pytest.raises(UsageError, match=r"^plug-in broken-plugin .*expected ':'$"):
        catalogue.get("broken-plugin")


def test_a_plug_in_whose_module_is_missing_is_a_problem(tmp_path, monkeypatch):
    site = install(tmp_path / "site", {"ghost": "cpulab_no_such_module:build"}, {})
    monkeypatch.syspath_prepend(str(site))
    assert load_catalogue().problems == [
        "plug-in ghost (cpulab_no_such_module:build): module cpulab_no_such_module not found"
    ]


def test_a_task_file_cannot_take_an_installed_plug_ins_name(site, tmp_path):
    path = task_file(tmp_path, "fake.py", "NAME = 'fake-forest'\ncpulab_task = None\n")
    with pytest.raises(UsageError, match=r"taken \(plug-in from cpulab-fake-plugins 0\.1\)"):
        load_catalogue([path])


def test_discovery_imports_no_plug_in_and_no_scikit_learn(site):
    probe = (
        "import sys\n"
        "from pathlib import Path\n"
        "from cpulab.engine.plugins import load_catalogue\n"
        f"catalogue = load_catalogue([Path({str(PLUGINS / 'forest_cv.py')!r})])\n"
        "assert 'fake-forest' in catalogue.tasks and 'forest-cv' in catalogue.tasks\n"
        "print(' '.join(sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True
    )
    loaded = set(out.stdout.split())
    assert not loaded & {"cpulab_fake_forest", "sklearn", "numpy", "joblib"}


def spec_for(task, train=1, eval=1) -> RunSpec:
    return RunSpec.for_task(task, CoreSplit.resolve(train, eval, available=2))


async def test_task_file_functions_and_classes_run_in_process_workers():
    task = task_file_task(PLUGINS / "centroid_workers.py")
    handle = await Supervisor().start(spec_for(task, eval=2))
    events = [event async for event in handle.events()]
    result = events[-1]
    assert isinstance(result, Result), result
    assert result.task == "centroids" and result.metric == "accuracy"
    assert result.score > 0.7
    assert result.setup["workers"] > 0
    # The folds ran in joblib's worker processes, not in the runner itself.
    assert handle.pid not in result.details["worker_pids"]


async def test_an_installed_plug_in_runs_in_the_child(site, child_env):
    task = load_catalogue().get("fake-forest")
    env = {**child_env, "PYTHONPATH": os.pathsep.join([str(site), child_env["PYTHONPATH"]])}
    handle = await Supervisor(env=env).start(spec_for(task, train=2))
    result = [event async for event in handle.events()][-1]
    assert isinstance(result, Result), result
    assert result.score > 0.5 and result.details["folds"] == 3


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        (
            "def cpulab_task(setting):\n    pass\n\n1 / 0\n",
            "importing it raised ZeroDivisionError: division by zero (bad.py, line 4)",
        ),
        ("def cpulab_task(setting):\n    return 42\n", "cpulab_task returned int, not a"),
        ("cpulab_task = 'not a function'\n", "no function cpulab_task"),
        (
            "from cpulab.api import Experiment\n"
            "def cpulab_task(setting):\n"
            "    from sklearn.svm import SVC\n"
            "    return Experiment(SVC(), [[0], [1]] * 5, [0, 1] * 5)\n",
            "SVC has no n_jobs to give training cores to",
        ),
    ],
)
async def test_plug_in_faults_found_in_the_child_are_bad_input(tmp_path, source, problem):
    task = task_file_task(task_file(tmp_path, "bad.py", source))
    handle = await Supervisor().start(spec_for(task, train=2))
    final = [event async for event in handle.events()][-1]
    assert isinstance(final, Error) and final.bad_input, final
    assert final.message.startswith(str(tmp_path / "bad.py"))
    assert problem in final.message and "\n" not in final.message
