"""Results and store files for the store's tests: good ones, and files it must refuse."""

import hashlib
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

from cpulab.engine.events import Result
from cpulab.engine.models import sweep_model
from cpulab.engine.store import SCHEMA_VERSION, ResultStore

ALPHA = {
    "hostname": "alpha",
    "cpu_model": "AMD EPYC 7763",
    "logical_cores": 16,
    "physical_cores": 8,
    "cores": {"logical": 16, "available": 16, "affinity": list(range(16)), "quota": None},
}
ALPHA_SOFTWARE = {
    "python": "3.11.9",
    "platform": "Linux-6.1",
    "libraries": {"scikit-learn": "1.5.0", "numpy": "2.0.0"},
    "threadpools": [{"user_api": "blas", "internal_api": "openblas", "num_threads": 16}],
}
BETA = {
    "hostname": "beta-laptop",
    "cpu_model": "Intel Core i7",
    "logical_cores": 8,
    "cores": {"logical": 8, "available": 4, "affinity": [0, 1, 2, 3], "quota": 4.0},
}


def result(
    train=1,
    eval_=1,
    task="rf-train",
    scale="small",
    machine=ALPHA,
    software=ALPHA_SOFTWARE,
    **changes,
):
    fields = {
        "task": task,
        "title": "Random forest",
        "scale": scale,
        "train": train,
        "eval": eval_,
        "available": 16,
        "fit_times": [0.31, 0.3, 0.32],
        "warmup_times": [0.5],
        "setup": {"imports": 0.8, "data": 0.01, "workers": 1.2},
        "cpu_time": 0.95,
        "peak_rss": 300 << 20,
        "score": 0.875,
        "metric": "accuracy",
        "details": {"trees": 100, "nested": {"folds": [1, 2]}},
        "flags": ["noisy"],
        "machine": machine,
        "software": software,
    }
    return Result(**{**fields, **changes})


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def random_bytes(path):
    path.write_bytes(b"\x00not sqlite" + os.urandom(5000))


def text_file(path):
    path.write_text("task,train,eval,time\nrf-train,1,1,0.3\n")


def foreign_with_a_table(path):
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("CREATE TABLE contacts (name TEXT)")
        conn.execute("INSERT INTO contacts VALUES ('someone')")


def foreign_application(path):
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA application_id = 1196444487")  # GeoPackage
        conn.execute("CREATE TABLE features (geometry BLOB)")


def foreign_in_wal_mode(path):
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE t (x)")


def real_store(path, points=30):
    with ResultStore.open(path) as store:
        for train in range(1, points + 1):
            store.add_point(result(train, 1))


def truncated_store(path):
    real_store(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def store_cut_mid_page(path):
    real_store(path)
    data = path.read_bytes()
    path.write_bytes(data[:-100])


def corrupted_store(path):
    real_store(path)
    data = bytearray(path.read_bytes())
    page = 4096
    data[3 * page : 4 * page] = b"\xff" * page  # a whole b-tree page of garbage
    path.write_bytes(bytes(data))


def damage_a_points_page(path):
    """Garbage over a page near the end of a store: one of the points table's, past its
    schema and first pages, which a store too large to check page by page opens with."""
    data = bytearray(path.read_bytes())
    page = 4096
    at = (len(data) // page - 2) * page
    data[at : at + page] = b"\xff" * page
    path.write_bytes(bytes(data))


def newer_store(path):
    real_store(path, points=1)
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")


def model_of(store: ResultStore, sweep_id: int) -> dict:
    """The model a sweep of these points stores as it ends, as a session fits it."""
    results = tuple(p.result for p in store.points(sweep_id=sweep_id))
    model = sweep_model(results)
    assert model is not None
    return model.to_dict(results[0].available)


LEFT_RUNNING = """
import os, sys
from cpulab.engine.store import ResultStore
from support.store import ALPHA, result
store = ResultStore.open(sys.argv[1])
sweep = store.start_sweep("rf-train", "small", "train", [1, 2], 3, 1, ALPHA)
store.add_point(result(1), sweep)
print(sweep, flush=True)
os._exit(0)
"""


def sweep_left_running(path: Path) -> int:
    """A sweep another process starts in the store at `path`, with its first point, and
    leaves running as it ends without a word, as a killed one would: its id."""
    tests = str(Path(__file__).parents[1])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [tests, os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [sys.executable, "-c", LEFT_RUNNING, str(path)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)
