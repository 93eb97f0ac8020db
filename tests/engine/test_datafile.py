"""The user's data file: what the parent reads of it (delimiter, header, columns, refusals)
and what the runner child loads (numbers, kind, refusals)."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from cpulab.engine.cores import CoreSplit
from cpulab.engine.datafile import DataSpec, data_spec, infer_kind, load_dataset
from cpulab.engine.errors import UsageError
from cpulab.engine.spec import RunOptions, RunSpec
from cpulab.engine.tasks import CATALOGUE


def write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refused(says: str, *args, **kwargs) -> None:
    with pytest.raises(UsageError) as caught:
        data_spec(*args, **kwargs)
    assert says in str(caught.value)
    assert "\n" not in str(caught.value)


def load_refused(says: str, spec: DataSpec) -> None:
    with pytest.raises(UsageError) as caught:
        load_dataset(spec)
    assert says in str(caught.value)


SEED_ROWS = "".join(f"{i},{i % 7}.5,{(i * 3) % 11}.25,{i % 2}\n" for i in range(40))


# The parent's description of a file.


def test_a_headed_file_is_described_by_its_column_names(tmp_path):
    path = write(tmp_path, "a,b,price\n1,2,3.5\n4,5,6.5\n")
    spec = data_spec(path, "price", ["a"])
    assert spec == DataSpec(
        path=str(path), target="price", drop=("a",), header=True, delimiter=",",
        shown_kind="regression",  # 3.5 is no class label
    )  # fmt: skip
    assert spec.label == "data.csv:price"


@pytest.mark.parametrize(
    ("target", "shown"),
    [("1.5\n2\n", "regression"), ("yes\nno\n", "classification"), ("1\n2\nNA\n", None)],
)
def test_the_first_rows_settle_the_kind_only_where_every_row_would(tmp_path, target, shown):
    rows = "".join(f"{i},{value}\n" for i, value in enumerate(target.split()))
    assert data_spec(write(tmp_path, "a,y\n" + rows), "y").shown_kind == shown
    assert data_spec(write(tmp_path, "a,y\n" + rows), "y", kind="classification").shown_kind is None


def test_a_task_refuses_data_whose_first_rows_show_the_wrong_kind(tmp_path):
    spec = data_spec(write(tmp_path, "a,price\n1,2.5\n2,3.5\n"), "price")
    with pytest.raises(UsageError, match="rf-train needs a classification target; price holds"):
        CATALOGUE["rf-train"].check_data(spec)
    CATALOGUE["compare-regressors"].check_data(spec)


def test_a_headerless_file_names_columns_by_position(tmp_path):
    path = write(tmp_path, SEED_ROWS, "train.txt")
    spec = data_spec(path, "-1", ["0"])
    assert (spec.header, spec.target, spec.drop) == (False, "3", ("0",))
    assert spec.label == "train.txt:3"


def test_a_position_names_a_column_of_a_headed_file_too(tmp_path):
    path = write(tmp_path, "id,x,y\n1,2,3\n4,5,6\n")
    assert data_spec(path, "-1", ["0"]).target == "y"
    assert data_spec(path, "-1", ["0"]).drop == ("id",)


@pytest.mark.parametrize(
    ("text", "header"),
    [
        ("a,b,y\n1,2,0\n3,4,1\n", True),
        ("1,2,0\n3,4,1\n", False),
        ("f1,f2,label\n1,2,cat\n3,4,dog\n", True),  # a text target does not hide the header
        ("1,2,cat\n3,4,dog\n", False),  # text in every row of a column is data
        ("x,,y\n1,,0\n3,4,1\n", True),  # empty fields are missing values, not text
        ("NA,2,0\n3,4,1\n", False),  # a missing-value marker is no header name
    ],
)
def test_the_first_row_is_a_header_when_it_has_text_over_numbers(tmp_path, text, header):
    assert data_spec(write(tmp_path, text), "-1").header is header


@pytest.mark.parametrize(("delimiter", "text"), [(",", "a,b,y\n"), ("\t", "a\tb\ty\n"),
                                                  (";", "a;b;y\n")])  # fmt: skip
def test_comma_tab_and_semicolon_are_told_apart(tmp_path, delimiter, text):
    rows = "".join(delimiter.join(map(str, (i, i * 2, i % 2))) + "\n" for i in range(10))
    spec = data_spec(write(tmp_path, text + rows), "y")
    assert spec.delimiter == delimiter
    assert load_dataset(spec).X.shape == (10, 2)


def test_a_drop_is_a_column_named_with_a_comma_or_a_list_of_columns(tmp_path):
    path = write(tmp_path, "a;b,c;d;y\n1;2;3;0\n4;5;6;1\n")
    assert data_spec(path, "y", ["b,c"]).drop == ("b,c",)  # the column called so
    assert data_spec(path, "y", ["a, d"]).drop == ("a", "d")  # two columns
    assert data_spec(path, "y", ["a", "d"]).drop == ("a", "d")


def test_a_quoted_comma_does_not_split_a_field(tmp_path):
    path = write(tmp_path, 'name,x,y\n"Smith, J",1,2\n"Doe, A",3,4\n"Roe, B",5,6\n')
    spec = data_spec(path, "y", ["name"])
    assert spec.delimiter == "," and spec.header


def test_a_byte_order_mark_and_blank_lines_are_ignored(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbfx,y\r\n1,2\r\n\r\n3,4\r\n5,6\r\n")
    spec = data_spec(path, "x")
    assert spec.header and spec.target == "x"
    assert load_dataset(spec).X.tolist() == [[2.0], [4.0], [6.0]]


def test_a_given_kind_is_kept(tmp_path):
    assert data_spec(write(tmp_path, SEED_ROWS), "-1", kind="regression").kind == "regression"


def test_a_spec_survives_the_trip_to_the_child(tmp_path):
    spec = data_spec(write(tmp_path, "id\tx\ty\n1\t2\t3\n"), "y", ["id"])
    run = RunSpec.for_task(
        CATALOGUE["compare-regressors"],
        CoreSplit.resolve(1, 1, available=2),
        options=RunOptions(data=spec),
    )
    assert RunSpec.from_dict(json.loads(json.dumps(run.to_dict()))) == run


def test_the_parent_reads_only_the_first_rows(tmp_path):
    # Garbage far down the file is the child's to find: the parent stops early.
    path = write(tmp_path, "x,y\n" + "1,2\n" * 500 + "\xff,\n" * 3)
    assert data_spec(path, "y").header


@pytest.mark.parametrize(
    ("text", "args", "says"),
    [
        ("", ("y",), "data.csv is empty"),
        ("\n\n  \n", ("y",), "data.csv is empty"),
        ("a,b,y\n", ("y",), "has a header but no data rows"),
        ("1\n2\n3\n", ("0",), "has a single column"),
        ("a,b,y\n1,2,3\n4,5\n", ("y",), "line 3 has 2 fields where the first row has 3"),
        ("a,b,y\n1,2,3\n", ("z",), "data.csv has no column 'z': its columns are a, b, y"),
        ("1,2,3\n4,5,6\n", ("y",), "it has no header, so name its 3 columns by position, 0 to 2"),
        ("1,2,3\n4,5,6\n", ("3",), "has no column '3'"),
        ("1,2,3\n4,5,6\n", ("-4",), "has no column '-4'"),
        ("a,b,y\n1,2,3\n", ("y", ["q"]), "has no column 'q'"),
        ("a,b,y\n1,2,3\n", ("y", ["y"]), "--drop y names the target column 'y'"),
        ("a,b,y\n1,2,3\n", ("y", [""]), "--drop '' holds an empty column name"),
        ("a,b,y\n1,2,3\n", ("y", ["a,,b"]), "--drop 'a,,b' holds an empty column name"),
        ("a,b,y\n1,2,3\n", ("-1", ["a", "1"]), "dropping a, b leaves data.csv no feature"),
        ("a,a,y\n1,2,3\n", ("y", ["a"]), "names 2 columns 'a': rename them"),
        ("a,b,y\n1,2,3\n", ("y", [], "clustering"), "unknown --kind 'clustering'"),
        ("a,b,y\n1,2,cat\n", ("y", [], "regression"), "the target 'y' holds text ('cat' on"),
    ],
)
def test_bad_files_and_columns_are_refused_in_one_line(tmp_path, text, args, says):
    refused(says, write(tmp_path, text), *args)


def test_many_columns_are_listed_in_short(tmp_path):
    header = ",".join(f"feature_{i}" for i in range(30))
    path = write(tmp_path, header + "\n" + ",".join(["1"] * 30) + "\n")
    refused("feature_0, feature_1, feature_2, feature_3, feature_4, feature_5, feature_6, "
            "feature_7 and 22 more", path, "price")  # fmt: skip


def test_missing_files_directories_and_unreadable_files_are_refused(tmp_path):
    refused("no data file 'nope.csv'", "nope.csv", "y")
    refused("is a directory, not a data file", tmp_path, "y")
    binary = tmp_path / "model.bin"
    binary.write_bytes(b"\x80\x81\xfe\xff" * 100)
    refused("model.bin is not UTF-8 text", binary, "y")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_a_file_without_read_permission_is_refused(tmp_path):
    path = write(tmp_path, "a,y\n1,2\n")
    path.chmod(0)
    try:
        refused("cannot read", path, "y")
    finally:
        path.chmod(0o600)


# The child's loading of every row.


def test_loading_gives_numeric_features_and_the_target(tmp_path):
    path = write(tmp_path, "id,a,b,price\n1,0.5,2,10.25\n2,1.5,3,11.5\n3,2.5,4,12.75\n")
    data = load_dataset(data_spec(path, "price", ["id"]))
    assert data.X.dtype == float and data.X.tolist() == [[0.5, 2], [1.5, 3], [2.5, 4]]
    assert data.y.tolist() == [10.25, 11.5, 12.75]
    assert (data.kind, data.feature_names, data.target_name) == ("regression", ("a", "b"), "price")
    assert data.source == str(path)


def test_a_seed_style_file_loads_with_its_id_dropped(tmp_path):
    data = load_dataset(data_spec(write(tmp_path, SEED_ROWS), "-1", ["0"]))
    assert data.X.shape == (40, 2) and data.kind == "classification"
    assert data.y.dtype == np.int64 and set(data.y.tolist()) == {0, 1}
    assert data.feature_names == ("1", "2")


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        ([0, 1] * 10, "classification"),
        (list(range(20)) * 3, "classification"),  # 20 classes, each thrice
        (list(range(21)) * 3, "regression"),  # more than 20 distinct values
        (list(range(10)) * 2, "regression"),  # distinct values are half the rows
        ([0.5, 1.5] * 10, "regression"),  # not whole numbers
        ([1.0, 2.0, 3.0] * 5, "classification"),  # whole numbers written as decimals
    ],
)
def test_kind_inference(values, kind):
    assert infer_kind([float(v) for v in values]) == kind


def test_a_text_target_is_classes_and_a_given_kind_wins(tmp_path):
    path = write(tmp_path, "x,y,species\n1,2,setosa\n3,4,virginica\n5,6,setosa\n")
    data = load_dataset(data_spec(path, "species"))
    assert data.kind == "classification"
    assert data.y.tolist() == ["setosa", "virginica", "setosa"]
    fractions = write(tmp_path, "x,y\n1,0.5\n2,1.5\n3,0.5\n4,1.5\n", "fractions.csv")
    data = load_dataset(data_spec(fractions, "y", kind="classification"))
    assert data.kind == "classification" and data.y.tolist() == ["0.5", "1.5", "0.5", "1.5"]
    data = load_dataset(data_spec(write(tmp_path, SEED_ROWS), "-1", kind="regression"))
    assert data.kind == "regression" and data.y.dtype == float


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("a,b,y\n1,2,0\n3,x,1\n", "data.csv column 'b' is not numeric ('x' on line 3)"),
        ("a,b,y\n1,2,0\n3,x,1\n", "--drop b or encode it as numbers"),
        ("a,b,y\n1,,0\n3,NA,1\n5,6,?\n", "has 3 missing or infinite values (the first on line 2, "
                                        "column 'b'); cpulab does not impute"),
        ("a,b,y\n1,inf,0\n3,4,1\n", "has 1 missing or infinite value (the first on line 2"),
        ("a,b,y\n1,2,0\n3,4,0\n5,6,0\n", "the target 'y' of data.csv holds a single class"),
        ("a,b,y\n1,2,no\n3,4,no\n", "holds a single class ('no'): classification needs two"),
    ],
)  # fmt: skip
def test_bad_rows_are_refused_in_one_line(tmp_path, text, says):
    load_refused(says, data_spec(write(tmp_path, text), "y"))


def test_text_below_the_rows_the_parent_read_is_found(tmp_path):
    rows = "".join(f"{i},{i * 0.5}\n" for i in range(150))
    spec = data_spec(write(tmp_path, "x,y\n" + rows + "7,many\n"), "y", kind="regression")
    load_refused("the target 'y' holds text ('many' on line 152)", spec)
    spec = data_spec(write(tmp_path, "x,y\n" + rows + "oops,1\n"), "y")
    load_refused("column 'x' is not numeric ('oops' on line 152)", spec)


def test_a_file_changed_since_it_was_checked_is_refused(tmp_path):
    path = write(tmp_path, "a,b,y\n1,2,3\n")
    spec = data_spec(path, "y", ["b"])
    path.write_text("a,y\n1,3\n")
    load_refused("data.csv has no column 'b'", spec)
    path.unlink()
    load_refused("no data file", spec)


# Which tasks take which data.


def test_tasks_that_take_data_say_which_kind():
    kinds = {name: task.data_kind for name, task in CATALOGUE.items()}
    assert kinds == {
        "rf-train": "classification",
        "cv-eval": "classification",
        "grid-search": "classification",
        "compare-regressors": "regression",
        "compare-classifiers": "classification",
        "digits-svc": None,
    }


def test_run_specs_refuse_data_a_task_cannot_take(tmp_path):
    spec = data_spec(write(tmp_path, SEED_ROWS), "-1")
    split = CoreSplit.resolve(1, 1, available=2)

    def for_task(task: str, data: DataSpec) -> RunSpec:
        return RunSpec.for_task(CATALOGUE[task], split, options=RunOptions(data=data))

    with pytest.raises(UsageError, match="digits-svc runs on its own data, not --data"):
        for_task("digits-svc", spec)
    with pytest.raises(
        UsageError,
        match=r"compare-regressors needs a regression target, not "
        r"--kind classification \(use compare-classifiers, or --kind regression\)",
    ):
        for_task("compare-regressors", replace(spec, kind="classification"))
    assert for_task("cv-eval", spec).options.data == spec


def test_the_child_check_of_an_inferred_kind_names_the_way_out():
    regressors, forest = CATALOGUE["compare-regressors"], CATALOGUE["rf-train"]
    with pytest.raises(UsageError) as caught:
        regressors.check_data_kind("classification", "species", numeric=False)
    assert str(caught.value) == (
        "compare-regressors needs a regression target; species holds classes "
        "(use compare-classifiers)"
    )
    with pytest.raises(UsageError, match=r"\(use compare-classifiers, or --kind regression\)"):
        regressors.check_data_kind("classification", "grade", numeric=True)
    with pytest.raises(UsageError, match=r"holds numbers \(use compare-regressors, or --kind"):
        forest.check_data_kind("regression", "price", numeric=True)
    forest.check_data_kind("classification", "grade", numeric=True)
