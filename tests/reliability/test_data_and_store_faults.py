"""Hostile data, stores and addresses: a Dask address that takes the connection and never
answers, numbers beyond what scikit-learn's trees compute in, NaN in a result, a store on a
read-only mount, a data file of one endless line, and a named pipe or a device where a file
should be. Each is one line and exit status 2 (or, for a read-only store, a listing and an
export), in a real `cpulab` process, with every store file left as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from importlib.util import find_spec
from pathlib import Path

import pytest

from cpulab.engine.datafile import data_spec, load_dataset
from cpulab.engine.errors import UsageError
from cpulab.engine.events import Result, finite_or_none, parse_event
from cpulab.engine.store import ResultStore
from support.cli import cpulab
from support.reliability import MARK, seconds_until_gone
from support.store import digest, real_store, result

FIXTURES = Path(__file__).parents[1] / "fixtures"


def assert_refused(out: subprocess.CompletedProcess, says: str) -> None:
    assert (out.returncode, out.stdout) == (2, ""), out.stderr
    assert "Traceback" not in out.stderr
    assert out.stderr.count("\n") == 1 and out.stderr.endswith("\n"), out.stderr
    assert out.stderr.startswith("cpulab: error: ")
    assert says in out.stderr, out.stderr


def strict_json(text: str):
    """JSON as a strict reader takes it: a bare NaN or Infinity is an error."""

    def refuse(constant: str):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def everything_in(folder: Path) -> dict[str, str | None]:
    """Every file (with a digest of its bytes) and folder below `folder`."""
    return {
        str(path.relative_to(folder)): digest(path) if path.is_file() else None
        for path in folder.rglob("*")
    }


# A Dask address that takes the connection and never answers.


@contextmanager
def silent_server() -> Iterator[tuple[int, list[socket.socket]]]:
    """A TCP server on 127.0.0.1 that accepts every connection and never writes a byte."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.1)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], accepted
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()


@pytest.mark.skipif(find_spec("distributed") is None, reason="needs cpulab[dask]")
def test_a_dask_address_that_never_answers_is_bad_input_within_seconds(monkeypatch):
    token = uuid.uuid4().hex
    monkeypatch.setenv(MARK, token)  # every process of the run inherits it
    with silent_server() as (port, accepted):
        started = time.monotonic()
        out = cpulab("run", "cv-eval", "--dask", f"127.0.0.1:{port}", timeout=60)
        took = time.monotonic() - started
        assert accepted, "the run never reached the server"
    assert_refused(out, f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}: it took")
    assert took < 10, f"refused after {took:.1f} s"
    assert seconds_until_gone(token, time.monotonic(), timeout=5) is not None, "a process stayed"


# Numbers beyond float32, and NaN in results.


def write_rows(path: Path, rows: list[str]) -> Path:
    """A header, then `rows`, then 40 sound rows of two features and a 0/1 class."""
    sound = [f"{i % 7},{i % 5},{i % 2}" for i in range(40)]
    path.write_text("\n".join(["a,b,y", *rows, *sound]) + "\n")
    return path


def test_a_feature_beyond_float32_is_refused_with_its_line_and_column(tmp_path, results_store):
    data = write_rows(tmp_path / "huge.csv", ["1,2,0", "3,1e308,1"])
    out = cpulab("run", "rf-train", "--data", str(data), "--target", "y")
    assert_refused(
        out, "huge.csv has 1 value beyond float32's range of ±3.4e38 (the first on line 3, "
        "column 'b')"
    )  # fmt: skip
    with ResultStore.open(results_store, readonly=True) as store:
        assert store.points() == []


def test_a_target_beyond_float32_is_refused_and_its_edge_is_not(tmp_path):
    path = write_rows(tmp_path / "target.csv", ["1,2,-4e38", "2,1,5e38"])
    with pytest.raises(UsageError, match=r"has 2 values beyond .* on line 2, column 'y'"):
        load_dataset(data_spec(path, "y", kind="regression"))
    edge = write_rows(tmp_path / "edge.csv", ["1,3.4e38,-3.4e38"])
    data = load_dataset(data_spec(edge, "y", kind="regression"))
    assert data.X.max() == 3.4e38 and data.y.min() == -3.4e38


ENDLESS_SCORE = """
from sklearn.datasets import make_classification
from sklearn.tree import DecisionTreeClassifier

from cpulab.api import Experiment


def endless(estimator, X, y):
    return float("inf")


def cpulab_task(setting):
    X, y = make_classification(n_samples=60, random_state=0)
    return Experiment(DecisionTreeClassifier(random_state=0), X, y, cv=3, scoring=endless)
"""


def test_a_score_that_is_not_finite_is_null_in_every_json(tmp_path):
    task = tmp_path / "endless_score.py"
    task.write_text(ENDLESS_SCORE)
    out = cpulab("run", "--task-file", str(task), "--json")
    assert out.returncode == 0, out.stderr
    printed = strict_json(out.stdout)
    assert printed["score"] is None and printed["details"]["std"] is None

    exported = cpulab("export", "--format", "json")
    assert exported.returncode == 0, exported.stderr
    [run] = strict_json(exported.stdout)["runs"]
    assert run["result"]["details"]["std"] is None
    assert cpulab("history").returncode == 0


def test_a_stored_nan_does_not_stop_the_export(results_store):
    with ResultStore.open(results_store) as store:
        point = store.add_point(result())
    # As an older cpulab wrote it: bare NaN and Infinity in the stored record.
    record = json.loads(result().to_json())
    record.update(score=float("nan"), details={"folds": [float("inf"), 0.5]})
    with closing(sqlite3.connect(results_store)) as conn:
        conn.execute("UPDATE points SET result = ? WHERE id = ?", (json.dumps(record), point))
        conn.commit()
    for fmt in ("json", "csv", "markdown"):
        out = cpulab("export", "--format", fmt)
        assert (out.returncode, out.stderr) == (0, ""), out.stderr
    document = strict_json(cpulab("export", "--format", "json").stdout)
    stored = document["runs"][0]["result"]
    assert stored["score"] is None and stored["details"]["folds"] == [None, 0.5]


def test_events_and_summaries_write_non_finite_numbers_as_null():
    event = result(score=float("nan"), details={"fold": [float("-inf"), 1.5], "n": (1, 2.0)})
    line = event.to_json()
    assert "NaN" not in line and "Infinity" not in line
    parsed = parse_event(line)
    assert isinstance(parsed, Result)
    assert parsed.score is None and parsed.details == {"fold": [None, 1.5], "n": [1, 2.0]}
    assert strict_json(json.dumps(event.summary()))["score"] is None
    assert finite_or_none({"a": [float("nan"), "x", True, 3]}) == {"a": [None, "x", True, 3]}


# Stores that cannot be written.


def unchanged_by(folder: Path, read: Callable[[], object]) -> object:
    before = everything_in(folder)
    answer = read()
    assert everything_in(folder) == before, "reading changed, added or removed a file"
    return answer


def test_a_readonly_open_reads_everything_and_writes_nothing(tmp_path):
    path = tmp_path / "results.sqlite"
    real_store(path, points=3)

    def read() -> int:
        with ResultStore.open(path, readonly=True) as store:
            with pytest.raises(sqlite3.OperationalError, match="readonly"):
                store.add_point(result())
            return len(store.points())

    assert unchanged_by(tmp_path, read) == 3
    assert sorted(os.listdir(tmp_path)) == ["results.sqlite"]  # no -wal, no -shm


def test_a_readonly_open_of_an_older_store_upgrades_only_a_copy(tmp_path):
    path = tmp_path / "store-v1.sqlite"
    shutil.copyfile(FIXTURES / "store-v1.sqlite", path)

    def read() -> list[str]:
        with ResultStore.open(path, readonly=True) as store:
            assert store.unreadable == {} and len(store.software()) == 1
            return [p.result.task for p in store.points()]

    assert len(unchanged_by(tmp_path, read)) == 7


def test_a_readonly_open_of_no_store_is_empty_and_makes_nothing(tmp_path):
    path = tmp_path / "not" / "yet" / "results.sqlite"
    with ResultStore.open(path, readonly=True) as store:
        assert store.points() == [] and store.sweeps() == []
    assert list(tmp_path.iterdir()) == []


def test_a_readonly_open_sees_commits_still_in_the_wal(tmp_path):
    path = tmp_path / "results.sqlite"
    with ResultStore.open(path) as writer:
        writer.add_point(result())
        assert Path(f"{path}-wal").exists()  # a writer at work
        with ResultStore.open(path, readonly=True) as reader:
            assert len(reader.points()) == 1


def readonly_mount_prefix(folder: Path) -> list[str] | None:
    """A command prefix that runs a command where `folder` is mounted read-only, in a
    mount namespace of its own: a read-only medium that root cannot write either, gone
    with the process. None where this machine allows no such namespace."""
    if shutil.which("unshare") is None:
        return None
    script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'
    for unshare in (["unshare", "--mount"], ["unshare", "--map-root-user", "--mount"]):
        prefix = [*unshare, "sh", "-c", script, "sh", str(folder)]
        probe = subprocess.run(
            [*prefix, "sh", "-c", f'! touch "{folder}/probe" 2>/dev/null'], capture_output=True
        )
        if probe.returncode == 0:
            return prefix
    return None


@pytest.fixture
def readonly_store(tmp_path) -> tuple[Path, list[str]]:
    folder = tmp_path / "mounted"
    folder.mkdir()
    real_store(folder / "results.sqlite", points=2)
    prefix = readonly_mount_prefix(folder)
    if prefix is None:
        pytest.skip("no mount namespace here to mount a folder read-only in")
    return folder, prefix


def on_the_mount(prefix: list[str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*prefix, sys.executable, "-m", "cpulab", *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_a_store_on_a_readonly_mount_lists_and_exports(readonly_store):
    folder, prefix = readonly_store
    db = str(folder / "results.sqlite")
    before = everything_in(folder)
    listed = on_the_mount(prefix, "history", "--db", db)
    assert (listed.returncode, listed.stderr) == (0, ""), listed.stderr
    assert "2 stored results" in listed.stdout
    exported = on_the_mount(prefix, "export", "--format", "json", "--db", db)
    assert (exported.returncode, exported.stderr) == (0, ""), exported.stderr
    assert len(strict_json(exported.stdout)["runs"]) == 2
    empty = on_the_mount(prefix, "history", "--db", str(folder / "none.sqlite"))
    assert (empty.returncode, empty.stderr) == (0, "") and "No results stored yet" in empty.stdout
    assert everything_in(folder) == before


@pytest.mark.parametrize("command", [("run", "rf-train"), ("sweep", "rf-train", "--cores", "1")])
def test_a_store_on_a_readonly_mount_is_refused_before_anything_runs(readonly_store, command):
    folder, prefix = readonly_store
    before = everything_in(folder)
    out = on_the_mount(prefix, *command, "--db", str(folder / "results.sqlite"))
    assert_refused(out, f"cannot write to {folder / 'results.sqlite'}: Read-only file system")
    new = on_the_mount(prefix, *command, "--db", str(folder / "new.sqlite"))
    assert_refused(new, f"cannot make files in {folder}: Read-only file system")
    assert everything_in(folder) == before


# Root writes whatever the mode bits say, so these hold for other users only.
needs_permissions = pytest.mark.skipif(os.geteuid() == 0, reason="root writes read-only files")


@needs_permissions
def test_a_readonly_store_file_is_refused_for_runs_and_read_for_history(results_store):
    real_store(results_store, points=1)
    results_store.chmod(0o444)
    assert_refused(cpulab("run", "rf-train"), f"cannot write to {results_store}: Permission denied")
    listed = cpulab("history")
    assert listed.returncode == 0 and "1 stored results" in listed.stdout


@needs_permissions
def test_a_store_in_a_readonly_folder_is_refused_for_runs_and_read_for_export(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    real_store(folder / "results.sqlite", points=1)
    folder.chmod(0o555)
    try:
        db = str(folder / "results.sqlite")
        out = cpulab("run", "rf-train", "--db", db)
        assert_refused(out, f"cannot make files in {folder}: Permission denied")
        exported = cpulab("export", "--db", db)
        assert exported.returncode == 0 and len(strict_json(exported.stdout)["runs"]) == 1
        assert sorted(os.listdir(folder)) == ["results.sqlite"]
    finally:
        folder.chmod(0o755)


# Files that are not files, and lines without end.


def test_a_line_wider_than_the_csv_field_limit_is_one_line(tmp_path):
    one_field = tmp_path / "one_field.csv"
    one_field.write_text("9" * 300_000)  # no delimiter, no line break
    assert_refused(
        cpulab("run", "rf-train", "--data", str(one_field), "--target", "0"),
        "one_field.csv line 1 cannot be read: field larger than field limit",
    )
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(["1"] * 200_000))  # a field too long to every other delimiter
    out = cpulab("run", "compare-regressors", "--data", str(wide), "--target", "0")
    assert_refused(out, "wide.csv has 1")


@pytest.mark.parametrize("kind", ["named pipe", "character device"])
def test_a_data_file_that_is_not_a_regular_file_is_refused_without_reading_it(tmp_path, kind):
    if kind == "named pipe":
        path = tmp_path / "rows.csv"
        os.mkfifo(path)
    else:
        path = Path("/dev/zero")
    out = cpulab("run", "rf-train", "--data", str(path), "--target", "y", timeout=30)
    assert_refused(out, f"'{path}' is a {kind}, not a data file")


def test_a_data_file_swapped_for_a_pipe_after_its_check_is_refused_in_the_runner(tmp_path):
    path = write_rows(tmp_path / "rows.csv", [])
    spec = data_spec(path, "y")
    path.unlink()
    os.mkfifo(path)
    raised: list[BaseException] = []

    def load() -> None:
        try:
            load_dataset(spec)
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "loading waited on the pipe"
    assert isinstance(raised[0], UsageError) and "is a named pipe" in str(raised[0])


@pytest.mark.parametrize("command", [("history",), ("export",), ("run", "rf-train")])
def test_a_store_that_is_a_named_pipe_is_refused_without_opening_it(tmp_path, command):
    pipe = tmp_path / "results.sqlite"
    os.mkfifo(pipe)
    out = cpulab(*command, "--db", str(pipe), timeout=30)
    assert_refused(out, f"{pipe} is a named pipe, not a results file")
