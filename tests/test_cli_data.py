"""The user's own data from the command line: real `cpulab` processes running real fits in
real runner children, and every bad input refused in one line with nothing stored."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from cpulab.engine.store import ResultStore
from support.cli import cpulab
from support.store import real_store


def regression_csv(path: Path, rows: int = 120) -> Path:
    """A header, three features and a numeric target, price."""
    rng = random.Random(1)
    lines = ["size,rooms,age,price"]
    for _ in range(rows):
        size, rooms, age = rng.uniform(30, 200), rng.randint(1, 6), rng.uniform(0, 80)
        lines.append(f"{size:.1f},{rooms},{age:.1f},{3 * size + 10 * rooms - age:.2f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def classes_csv(path: Path, rows: int = 150) -> Path:
    """A header, two features and a text target, species."""
    rng = random.Random(2)
    lines = ["petal,sepal,species"]
    for i in range(rows):
        species = ("setosa", "versicolor", "virginica")[i % 3]
        lines.append(f"{2 * (i % 3) + rng.random():.3f},{rng.random():.3f},{species}")
    path.write_text("\n".join(lines) + "\n")
    return path


def seed_style_file(path: Path, rows: int = 200) -> Path:
    """As the seed's train.txt: no header, an id first, five features, the 0/1 class last."""
    rng = random.Random(3)
    lines = []
    for i in range(rows):
        features = [rng.random() for _ in range(5)]
        label = int(features[0] + features[1] > 1)
        lines.append(",".join([str(i), *(f"{v:.4f}" for v in features), str(label)]))
    path.write_text("\n".join(lines) + "\n")
    return path


def run_json(*args: str) -> dict:
    out = cpulab(*args, "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_compare_regressors_reports_rmse_of_every_model_on_the_users_rows(tmp_path):
    data = regression_csv(tmp_path / "houses.csv")
    doc = run_json("run", "compare-regressors", "--data", str(data), "--target", "price")
    rmse = doc["details"]["rmse"]
    assert set(rmse) == {"random forest", "NuSVR", "ridge", "elastic net"}
    assert all(value >= 0 for value in rmse.values())
    assert doc["score"] == min(rmse.values()) == rmse[doc["details"]["best_model"]]
    assert doc["details"]["data"] == {
        "source": "houses.csv",
        "rows": 120,
        "features": 3,
        "target": "price",
        "kind": "regression",
    }
    assert doc["variant"] == "houses.csv:price"


def test_compare_classifiers_reports_accuracy_of_every_model(tmp_path):
    data = classes_csv(tmp_path / "flowers.csv")
    doc = run_json(
        "run", "compare-classifiers", "--data", str(data), "--target", "species", "--eval", "2"
    )
    accuracy = doc["details"]["accuracy"]
    assert set(accuracy) == {"random forest", "SVC", "ridge", "logistic elastic net"}
    assert all(0 <= value <= 1 for value in accuracy.values())
    assert doc["score"] == max(accuracy.values())
    assert doc["details"]["data"]["kind"] == "classification"
    assert doc["details"]["data"]["rows"] == 150


def test_compare_classifiers_runs_on_its_own_data_without_data():
    doc = run_json("run", "compare-classifiers", "--train", "2")
    assert len(doc["details"]["accuracy"]) == 4 and 0.5 < doc["score"] <= 1
    assert "data" not in doc["details"] and doc["variant"] == ""


@pytest.mark.parametrize("task", ["rf-train", "cv-eval", "grid-search", "compare-classifiers"])
def test_a_headerless_seed_style_file_runs_with_positions(tmp_path, task):
    data = seed_style_file(tmp_path / "train.txt")
    doc = run_json("run", task, "--data", str(data), "--target", "-1", "--drop", "0")
    assert doc["details"]["data"] == {
        "source": "train.txt",
        "rows": 200,
        "features": 5,
        "target": "6",
        "kind": "classification",
    }
    assert 0.5 < doc["score"] <= 1


def test_a_sweep_over_one_and_two_cores_with_data_before_the_command(tmp_path, results_store):
    data = regression_csv(tmp_path / "houses.csv")
    doc = run_json(
        "--data", str(data), "--target", "price", "--drop", "age,rooms",
        "sweep", "compare-regressors", "--cores", "1,2", "--repeats", "1", "--warmup", "0",
    )  # fmt: skip
    assert doc["sweep"]["status"] == "done"
    assert [(p["train"], p["eval"]) for p in doc["points"]] == [(1, 1), (1, 2)]
    assert {p["details"]["data"]["features"] for p in doc["points"]} == {1}
    assert {p["variant"] for p in doc["points"]} == {"houses.csv:price"}
    with ResultStore.open(results_store) as store:
        assert len(store.points(sweep_id=doc["sweep"]["id"])) == 2


def test_a_sweep_on_the_users_data_is_named_with_it_in_its_report_history_and_export(
    tmp_path, results_store
):
    data = classes_csv(tmp_path / "flowers.csv")
    swept = cpulab(
        "sweep", "cv-eval", "--data", str(data), "--target", "species", "--cores", "1",
        "--repeats", "1", "--warmup", "0",
    )  # fmt: skip
    assert swept.returncode == 0, swept.stderr
    title = " ".join(swept.stdout.split())  # as wide as the table, on as many lines
    assert "evaluation (small) [flowers.csv:species], strategy eval, sweep 1" in title
    assert "[flowers.csv:species] over 1 cores" in cpulab("history").stdout
    markdown = cpulab("export", "--format", "markdown").stdout
    assert "## Sweep 1: cv-eval [flowers.csv:species] (small), strategy eval" in markdown


def write(text: str):
    def make(path: Path) -> Path:
        path.write_text(text)
        return path

    return make


@pytest.mark.parametrize(
    ("args", "make", "says"),
    [
        (("run", "rf-train", "--target", "y"), lambda p: p.with_name("nope.csv"), "no data file"),
        (("run", "rf-train", "--target", "y"), lambda p: p.parent, "is a directory"),
        (("run", "rf-train", "--target", "y"), write(""), "is empty"),
        (("run", "cv-eval", "--target", "y"), write("a,b,y\n1,2,0\n3,blue,1\n"),
         "column 'b' is not numeric ('blue' on line 3): cpulab fits numbers only, so --drop b"),
        (("run", "rf-train", "--target", "label"), write("a,b,y\n1,2,0\n"),
         "data.csv has no column 'label': its columns are a, b, y"),
        (("run", "compare-regressors", "--target", "y"), write("a,y\n1,2\n,3\n4,5\n8,nan\n"),
         "has 2 missing or infinite values (the first on line 3, column 'a')"),
        (("run", "compare-regressors", "--target", "y", "--drop", "y"), write("a,y\n1,2\n"),
         "--drop y names the target column 'y'"),
        (("run", "digits-svc", "--target", "y"), write("a,y\n1,0\n2,1\n"),
         "digits-svc runs on its own data, not --data"),
        (("run", "compare-regressors", "--target", "species"), classes_csv,
         "compare-regressors needs a regression target; species holds classes "
         "(use compare-classifiers)"),
        (("run", "rf-train", "--target", "price"), regression_csv,
         "rf-train needs a classification target; price holds numbers"),
        (("run", "compare-regressors", "--target", "species", "--kind", "classification"),
         classes_csv, "compare-regressors needs a regression target, not --kind classification"),
        (("run", "cv-eval", "--target", "species", "--scale", "full"),
         lambda p: classes_csv(p, rows=24),
         "the stratified 10-fold cross-validation of cv-eval needs at least 10 rows of every "
         "class; class 'setosa' has only 8 in data.csv"),
        (("run", "compare-classifiers", "--target", "y"), write("a,y\n1,no\n2,no\n3,no\n4,yes\n"),
         "the stratified 25% held-out split of compare-classifiers needs at least 2 rows of "
         "every class; class 'yes' has only 1"),
        (("sweep", "compare-regressors", "--cores", "1,2", "--target", "y"),
         write("a,b,y\n1,2,0\n3,blue,1\n"), "column 'b' is not numeric"),
    ],
)  # fmt: skip
def test_bad_data_is_refused_in_one_line_and_nothing_is_stored(
    tmp_path, results_store, args, make, says
):
    real_store(results_store, points=1)
    data = make(tmp_path / "data.csv")
    out = cpulab(*args[:2], "--data", str(data), *args[2:])
    assert out.returncode == 2, out
    # A sweep first warns of what on the machine would make it noisy (other load: the
    # tests beside this one, say); then the one line of the refusal, and nothing after.
    *warnings, error = out.stderr.splitlines()
    assert all(line.startswith("cpulab: warning: ") for line in warnings), out.stderr
    assert not warnings or args[0] == "sweep", out.stderr
    assert error.startswith("cpulab: error: ") and out.stderr.endswith("\n"), out.stderr
    assert says in error
    assert "Traceback" not in out.stderr + out.stdout
    with ResultStore.open(results_store) as store:
        assert len(store.points()) == 1
        assert store.sweeps() == []  # a sweep refused before its first point leaves no trace


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("run", "rf-train", "--target", "y"), "--target, --drop and --kind describe a data file"),
        (("run", "rf-train", "--kind", "regression"), "give --data too"),
        (("sweep", "rf-train", "--data", "x.csv"), "--data needs --target COLUMN"),
        (("run", "rf-train", "--data", "x.csv", "--target", "y", "--kind", "ordinal"),
         "argument --kind: invalid choice: 'ordinal'"),
    ],
)  # fmt: skip
def test_data_options_out_of_place_are_refused_in_one_line(results_store, args, says):
    out = cpulab(*args)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and says in out.stderr, out.stderr
    assert "Traceback" not in out.stderr
    assert not results_store.exists()


def test_the_tasks_that_take_data_include_the_user_s_own(tmp_path):
    task_file = tmp_path / "my_classes.py"
    task_file.write_text(
        '"""My classifier."""\n\nDATA_KIND = "classification"\n\n\n'
        "def cpulab_task(setting):\n    raise NotImplementedError\n"
    )
    data = classes_csv(tmp_path / "data.csv")
    refused = cpulab(
        "run", "digits-svc", "--data", str(data), "--target", "species",
        "--task-file", str(task_file),
    )  # fmt: skip
    assert refused.returncode == 2
    takers = refused.stderr.split("tasks that take it: ")[1]
    assert "my-classes" in takers and "compare-classifiers" in takers
