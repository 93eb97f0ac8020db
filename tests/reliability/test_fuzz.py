"""Generated command lines, good and hostile, each run as a real `cpulab` process.

Every call must end with exit status 0, 1, 2 or 130; a refusal (2) is one line; nothing
prints a traceback of cpulab's own (a failing task's traceback, exit 1, is the user's to
read); no process and no shared-memory entry outlives a call; and every store cpulab
wrote passes SQLite's integrity check.

The suite runs a fixed seed within a time box. For more:

    CPULAB_FUZZ_SEED=7 CPULAB_FUZZ_CALLS=300 CPULAB_FUZZ_SECONDS=900 \\
        .venv/bin/python -m pytest tests/reliability/test_fuzz.py -s
"""

from __future__ import annotations

import os
import random
import re
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from contextlib import closing
from pathlib import Path

import psutil

from support.reliability import default_signals, leftovers, marked_env, seconds_until_gone
from support.store import real_store

SEED = int(os.environ.get("CPULAB_FUZZ_SEED", "20261129"))
CALLS = int(os.environ.get("CPULAB_FUZZ_CALLS", "45"))
SECONDS = float(os.environ.get("CPULAB_FUZZ_SECONDS", "100"))
CALL_TIMEOUT = 90  # seconds; a call that takes longer has hung
CLEAN_EXITS = {0, 1, 2, 130}
# Counts of runs that are refused, or small: a valid large one would take minutes at full scale.
HOSTILE_RUNS = ["0", "-1", "", "abc", "1.5", "99999", "9" * 40, "\uff11", "2\n3"]

GOOD_TASK = '''"""A quick fuzz task."""

from cpulab.api import Experiment


def cpulab_task(setting):
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    X, y = make_classification(n_samples=60, n_features=4, random_state=0)
    return Experiment(estimator=LogisticRegression(), X=X, y=y, cv=3)
'''


class Playground:
    """The files a generated command line may name: stores, data files, task files."""

    def __init__(self, root: Path):
        self.root = root
        self.good_store = root / "good.sqlite"
        real_store(self.good_store, points=3)
        self.written_stores = {self.good_store, root / "default.sqlite"}
        (root / "notes.txt").write_text("not a store\n")
        (root / "folder").mkdir()
        (root / "classes.csv").write_text(
            "a,b,label\n" + "".join(f"{i % 7},{(i * 3) % 5},{'xy'[i % 2]}\n" for i in range(60))
        )
        (root / "amounts.csv").write_text(
            "a,b,y\n" + "".join(f"{i},{i % 4},{i * 1.5}\n" for i in range(40))
        )
        (root / "broken.csv").write_text("a,b,y\n1,two,3\n")
        (root / "huge.csv").write_text("a,y\n1e308,1\n2,0\n3,1\n")
        (root / "task.py").write_text(GOOD_TASK)
        (root / "syntax.py").write_text("def cpulab_task(:\n")
        (root / "empty.py").write_text("")
        os.mkfifo(root / "fifo")

    def store(self, rng: random.Random) -> str:
        fresh = self.root / f"fresh-{rng.randrange(4)}.sqlite"
        choice = rng.choice([self.good_store, fresh, fresh, "notes.txt", "folder", "fifo",
                             "/dev/null", "missing/deeper/x.sqlite", "~nouser/x.sqlite",
                             "x" * 300, ""])  # fmt: skip
        if isinstance(choice, Path):
            self.written_stores.add(choice)
            return str(choice)
        return choice if choice.startswith(("/", "~")) or not choice else str(self.root / choice)

    def file(self, rng: random.Random, names: list[str]) -> str:
        name = rng.choice([*names, "missing.csv", "folder", "fifo", "/dev/zero", "x" * 300, ""])
        return name if name.startswith("/") or not name else str(self.root / name)


def numbers(rng: random.Random) -> str:
    return rng.choice(
        ["1", "2", "-1", "-2", "0", "3", "-3", "99", "100000", "9" * 30, "1.5", "abc", "",
         " 2 ", "\uff11", "\u0661\u0662", "1_0", "+2", "2\n3", "nan", "-0"]
    )  # fmt: skip


def text(rng: random.Random) -> str:
    return rng.choice(
        ["rf-train", "cv-eval", "nope", "", "a\nb", "x" * 500, "ü", "--", "-1", "'quoted'", "\t"]
    )


def command_line(rng: random.Random, play: Playground) -> list[str]:
    """One generated command line: mostly small enough to run, often hostile."""
    command = rng.choice(["run", "run", "sweep", "sweep", "history", "export", "tasks", ""])
    args = [command] if command else []
    if command in ("run", "sweep"):
        args.append(rng.choice(["rf-train", "cv-eval", "digits-svc", "grid-search", "nope"]))
        args += ["--scale", rng.choice(["small", "small", "small", "full", "huge"])]
        if rng.random() < 0.9:  # keep runs short: a valid count is small, or refused
            args += ["--repeats", rng.choice(["1", "1", "2", *HOSTILE_RUNS])]
            args += ["--warmup", rng.choice(["0", "0", "1", *HOSTILE_RUNS])]
    options = {
        "run": [
            "--train",
            "--eval",
            "--json",
            "--backend",
            "--blas-threads",
            "--dask",
            "--data",
            "--target",
            "--drop",
            "--kind",
            "--task-file",
            "--db",
        ],
        "sweep": [
            "--cores",
            "--strategy",
            "--json",
            "--backend",
            "--blas-threads",
            "--dask",
            "--data",
            "--target",
            "--task-file",
            "--db",
        ],
        "history": ["--task", "--machine", "--db"],
        "export": ["--format", "--out", "--task", "--machine", "--db"],
        "tasks": ["--task-file"],
        "": ["--theme", "--sample-hz", "--backend", "--db", "--version", "--bogus"],
    }[command]
    for option in rng.sample(options, k=rng.randint(0, min(3, len(options)))):
        args.append(option)
        if option in ("--json", "--version", "--bogus"):
            continue
        if option in ("--train", "--eval", "--blas-threads", "--sample-hz"):
            args.append(numbers(rng))
        elif option == "--cores":
            args.append(rng.choice(["1,2", "1-2", "pow2", "2-1", "0", "5000", "1-3", numbers(rng)]))
        elif option == "--db":
            args.append(play.store(rng))
        elif option == "--data":
            args.append(play.file(rng, ["classes.csv", "amounts.csv", "broken.csv", "huge.csv"]))
            if rng.random() < 0.8:
                args += ["--target", rng.choice(["label", "y", "-1", "missing", "0"])]
        elif option == "--task-file":
            args.append(play.file(rng, ["task.py", "syntax.py", "empty.py"]))
        elif option == "--dask":
            args.append(rng.choice(["local:0", "local:x", "tcp://", "127.0.0.1:1", "host:99999"]))
        elif option == "--backend":
            args.append(rng.choice(["loky", "threading", "multiprocessing", "dask", "ray", ""]))
        elif option == "--strategy":
            args.append(rng.choice(["eval", "train", "grid", "best", ""]))
        elif option == "--format":
            args.append(rng.choice(["json", "csv", "markdown", "html", ""]))
        elif option == "--out":
            args.append(rng.choice([str(play.root / "out.txt"), str(play.root / "folder"),
                                    "/dev/full", str(play.root / "no" / "dir" / "x")]))  # fmt: skip
        elif option == "--kind":
            args.append(rng.choice(["classification", "regression", "other"]))
        else:
            args.append(text(rng))
    return args


def leaked_shared_memory() -> set[str]:
    """joblib and loky entries in /dev/shm whose process is gone: left to nobody. (Those of
    live processes may belong to anything else running, and are theirs to clean.)"""
    if not os.path.isdir("/dev/shm"):
        return set()
    leaked = set()
    for name in os.listdir("/dev/shm"):
        match = re.search(r"(?:joblib_memmapping_folder_|loky-)(\d+)[_-]", name)
        if match and not psutil.pid_exists(int(match[1])):
            leaked.add(name)
    return leaked


def test_generated_command_lines_end_cleanly(tmp_path):
    rng = random.Random(SEED)
    play = Playground(tmp_path)
    outcomes: Counter[int] = Counter()
    leaked_before = leaked_shared_memory()
    deadline = time.monotonic() + SECONDS
    calls = 0
    while calls < CALLS and time.monotonic() < deadline:
        args = command_line(rng, play)
        env, token = marked_env()
        env["CPULAB_DB"] = str(play.root / "default.sqlite")
        env["XDG_CONFIG_HOME"] = str(play.root / "config")
        proc = subprocess.run(
            [sys.executable, "-m", "cpulab", *args],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            env=env,
            timeout=CALL_TIMEOUT,
            preexec_fn=default_signals,
        )
        calls += 1
        said = f"seed {SEED}, call {calls}: cpulab {args!r} -> {proc.returncode}\n{proc.stderr}"
        assert proc.returncode in CLEAN_EXITS, said
        if proc.returncode != 1:  # a failing task's own traceback is printed on purpose
            assert "Traceback" not in proc.stderr, said
        if proc.returncode == 2:
            assert len(proc.stderr.splitlines()) == 1, said
        assert seconds_until_gone(token, time.monotonic(), timeout=5) is not None, said
        assert not leftovers(token), said
        outcomes[proc.returncode] += 1
    assert leaked_shared_memory() <= leaked_before, "a call left shared memory behind"
    for store in play.written_stores:
        if store.exists():
            with closing(sqlite3.connect(store)) as conn:
                assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)], store
    print(f"\nfuzz: seed {SEED}, {calls} calls, exit statuses {dict(sorted(outcomes.items()))}")
    assert calls >= min(CALLS, 10)
