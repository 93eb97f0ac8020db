"""How `cpulab history`, `cpulab export` and the app's first frame scale with the store.

    python bench/store_scaling.py --sizes 10000,100000 --runs 5

Makes (once, kept in --dir) results stores of each size, shaped like real ones: the record
of a real `cpulab run` varied in task, split, times, flags and date over a year; half of
what was run a sweep (of 1 to 21 points: 19,000 sweeps and 81 % of the points at 100,000),
the rest single runs; on this machine (so the app finds its own) and a 32-core workstation,
under two software installs. Rows go in with executemany in one transaction, through the store's own
schema. Then each command runs as a real `cpulab` process, output to /dev/null (or to a
file with --out), interleaved, --runs times, recording its wall time and its peak resident
memory (ru_maxrss, from wait4). The app's first frame is timed as bench/first_frame.py does,
on the largest store, and so is the moment the app shows the history it loads in the
background (the newest results of this machine), with its peak memory then. Targets at
100,000 points: at most 2 s and 200 MB for every command, 0.5 s for the first frame.

--src DIR measures another cpulab source tree (its `src` folder), such as a release, with
the same stores; --only picks commands by name.

Beside the commands, in the same rounds, "floor": a bare Python process that reads every
text a JSON export prints (each live point's result and summary, each sweep's analysis and
model) out of the store and writes it to /dev/null as it is. No export can cost less; what
the floor takes in an hour says how fast this machine reads and writes those bytes then,
as the bare Textual app does for the first frame (this machine's speed drifts by two to
three times from hour to hour).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

from first_frame import app_reports, compile_package, first_frames

from cpulab.engine.events import Result, event_from_dict
from cpulab.engine.machine import machine_facts, software_facts
from cpulab.engine.models import fit_scaling
from cpulab.engine.presentation import REPORT_VERSION
from cpulab.engine.store import (
    RESULT_VERSION,
    SCHEMA_VERSION,
    ResultStore,
    keep_csv_cells,
    point_summary,
    sweep_texts,
)

# name -> arguments after `cpulab`; {out} is a file in a fresh temp directory.
COMMANDS = {
    "history": ["history"],
    "history --limit 1000": ["history", "--limit", "1000"],
    "history --all": ["history", "--all"],
    "history --task cv-eval --machine workstation": [
        "history", "--task", "cv-eval", "--machine", "workstation",
    ],
    "export json": ["export", "--format", "json"],
    "export json --out": ["export", "--format", "json", "--out", "{out}"],
    "export csv": ["export", "--format", "csv"],
    "export markdown": ["export", "--format", "markdown"],
}  # fmt: skip
FLOOR = "floor"  # not a command: see floor_child
SWEEP_SHARE = 0.5  # of what was run, sweeps; the rest single runs
MODEL_RESAMPLES = 20  # a stored model is as long whatever its refits: fewer to make
WORKSTATION = {
    "hostname": "workstation",
    "cpu_model": "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz",
    "logical_cores": 32,
    "physical_cores": 16,
    "cores": {
        "logical": 32,
        "available": 32,
        "affinity": list(range(32)),
        "quota": None,
        "env_limit": None,
    },
}
# Task -> (title, metric, score, seconds on one core, which knobs it has, details).
TASKS = {
    "rf-train": ("Random forest training", "accuracy", 0.948, 0.22, "train", {"held_out": 500}),
    "cv-eval": ("Cross-validated forest", "accuracy", 0.91, 5.5, "both", {"folds": 30}),
    "grid-search": ("Grid search over max_features", "accuracy", 0.92, 24.6, "both",
                    {"candidates": 5, "folds": 30, "best_params": {"max_features": 3}}),
    "digits-svc": ("SVC on digits, cross-validated", "accuracy", 0.97, 1.9, "eval",
                   {"folds": 5}),
    "compare-classifiers": ("Several classifiers at once", "accuracy", 0.95, 3.1, "eval",
                            {"accuracy": {"forest": 0.95, "logistic": 0.9, "knn": 0.93}}),
}  # fmt: skip


def thread_pools(threads: int) -> list[dict]:
    return [
        {"user_api": "blas", "internal_api": "openblas", "version": "0.3.30",
         "num_threads": threads, "threading_layer": "pthreads"},
        {"user_api": "openmp", "internal_api": "openmp", "version": None,
         "num_threads": threads, "threading_layer": None},
    ]  # fmt: skip


def splits(knobs: str, cores: int) -> list[tuple[int, int]]:
    """The splits of one sweep over powers of two up to `cores`."""
    counts = [c for c in (1, 2, 4, 8, 16, 32) if c <= cores]
    if knobs == "train":
        return [(c, 1) for c in counts]
    if knobs == "eval":
        return [(1, c) for c in counts]
    return [(t, c // t) for c in counts for t in counts if c % t == 0]  # a grid sweep


def record(
    rng: random.Random, task: str, train: int, eval_: int, machine: dict, software: dict
) -> dict:
    """A result as the runner writes it, in the store's JSON (the current version)."""
    title, metric, score, one_core, _, details = TASKS[task]
    cores = train * eval_
    median = one_core / cores ** rng.uniform(0.7, 0.95) * rng.uniform(0.97, 1.05)
    repeats = rng.choice((1, 3, 3, 5))
    fit_times = [median * rng.uniform(0.97, 1.04) for _ in range(repeats)]
    logical = machine["logical_cores"]
    return {
        "event": "result",
        "task": task,
        "title": title,
        "scale": rng.choice(("small", "small", "full")),
        "train": train,
        "eval": eval_,
        "available": machine["cores"]["available"],
        "fit_times": fit_times,
        "warmup_times": [fit_times[0] * 1.2] if rng.random() < 0.5 else [],
        "setup": {"imports": rng.uniform(0.9, 1.3), "data": rng.uniform(0.005, 0.02),
                  "workers": 0.0 if eval_ == 1 else rng.uniform(0.5, 1.2)},
        "cpu_time": sum(fit_times) * cores * 0.9,
        "peak_rss": rng.randrange(120, 400) << 20,
        "score": score + rng.uniform(-0.01, 0.01),
        "metric": metric,
        "details": details,
        "flags": [flag for flag in ("noisy",) if rng.random() < 0.05]
        + (["oversubscribed"] if cores > logical else []),
        "machine": machine,
        "software": {**software, "threadpools": thread_pools(logical)},
        "load": {"other_cores": rng.uniform(0, 0.05), "steal_cores": 0.0, "iowait_cores": 0.0},
        "worker_times": [],
        "variant": "",
        "options": {"data": None, "backend": "loky", "cluster": None, "blas_threads": None},
        "threads": {"runner": thread_pools(logical), "workers": []},
    }  # fmt: skip


def make_store(path: Path, points: int, seed: int = 1) -> None:
    """A store of `points` points; see the module's docstring."""
    rng = random.Random(seed)
    here = machine_facts()
    software = software_facts()
    upgraded = {**software, "libraries": {**software["libraries"], "scikit-learn": "1.8.0"}}
    installs = [(here, software), (here, upgraded), (WORKSTATION, software)]
    ids = []
    with ResultStore.open(path) as store:  # the schema, machines and software as cpulab makes them
        for machine, install in installs:
            first = event_from_dict(record(rng, "rf-train", 1, 1, machine, install))
            assert isinstance(first, Result)
            store.add_point(first)
            stored = store.points()[-1]
            ids.append((stored.machine_id, stored.software_id))
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("BEGIN")
        start = time.time() - 365 * 86400
        step = 365 * 86400 / points
        rows: list[tuple] = []
        sweeps: list[tuple] = []
        while len(rows) < points - len(installs):
            at = start + len(rows) * step
            which = rng.choices(range(len(installs)), weights=(5, 3, 2))[0]
            machine, install = installs[which]
            machine_id, software_id = ids[which]
            task = rng.choice(list(TASKS))
            knobs = TASKS[task][4]
            if rng.random() < SWEEP_SHARE:
                room = points - len(installs) - len(rows)
                plan = splits(knobs, machine["cores"]["available"])[:room]
                sweep_id = len(sweeps) + 1
                scale = rng.choice(("small", "full"))
            else:
                plan = [rng.choice(splits(knobs, machine["cores"]["available"]))]
                sweep_id, scale = None, None
            fastest: dict[int, list[float]] = {}  # of each core count: the sweep's model
            results = []
            for n, (train, eval_) in enumerate(plan):
                data = record(rng, task, train, eval_, machine, install)
                times = fastest.setdefault(train * eval_, data["fit_times"])
                if statistics.median(data["fit_times"]) < statistics.median(times):
                    fastest[train * eval_] = data["fit_times"]
                data["scale"] = scale or data["scale"]
                # Stored as the store writes a result: its JSON and summary.
                result = event_from_dict(data)
                assert isinstance(result, Result)
                results.append(result)
                point_id = len(installs) + len(rows) + 1
                rows.append(
                    (point_id, sweep_id, machine_id, software_id, at + n * 10, task,
                     data["scale"], train, eval_, result.fit_time, result.to_json(),
                     RESULT_VERSION, point_summary(result))
                )  # fmt: skip
            if sweep_id is not None:
                # The model a sweep stores as it ends: the same shape, fewer refits to make.
                model = fit_scaling(sorted(fastest.items()), resamples=MODEL_RESAMPLES)
                summary = model.to_dict(machine["cores"]["available"]) if model else None
                sweeps.append(
                    (sweep_id, task, scale, knobs if knobs != "both" else "grid",
                     json.dumps(sorted(fastest)), 3, 1, at, at + len(plan) * 10, "done",
                     machine_id, json.dumps(summary) if summary else None,
                     *sweep_texts(results, summary), REPORT_VERSION)
                )  # fmt: skip
        conn.executemany(
            "INSERT INTO sweeps (id, task, scale, strategy, cores, repeats, warmup, started_at,"
            " finished_at, status, machine_id, model, analysis, report, report_version)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            sweeps,
        )
        conn.executemany(
            "INSERT INTO points (id, sweep_id, machine_id, software_id, created_at, task,"
            " scale, train, eval, fit_time, result, result_version, summary)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        keep_csv_cells(conn)  # as the store keeps them, from the facts SQLite made
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def store_of(folder: Path, points: int) -> Path:
    """The store of `points` points in `folder`, made when it is not there yet."""
    # Named by its schema: with each point's summary, facts and CSV cells, each sweep's
    # analysis and Markdown section, kept for exports as that schema keeps them.
    path = folder / f"store-{points}-v{SCHEMA_VERSION}.sqlite"
    if not path.exists():
        started = time.perf_counter()
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        # In a process of its own: a child forked from this one after it built 200 MiB of
        # rows would count them in its own peak memory (ru_maxrss includes the pages it
        # had before exec).
        maker = multiprocessing.get_context("spawn").Process(
            target=make_store, args=(partial, points)
        )
        maker.start()
        maker.join()
        if maker.exitcode != 0:
            raise SystemExit(f"making {path} failed")
        partial.rename(path)
        size = path.stat().st_size / 2**20
        print(f"made {path}: {points} points, {size:.0f} MiB, "
              f"in {time.perf_counter() - started:.1f} s", file=sys.stderr)  # fmt: skip
    return path


def measure(args: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Wall seconds, peak resident MiB and exit status of one process of these arguments
    to Python (`-m cpulab ...`)."""
    with tempfile.TemporaryDirectory() as work:
        args = [arg.replace("{out}", str(Path(work) / "out")) for arg in args]
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
        assert proc.stderr is not None
        errors = proc.stderr.read()  # short: warnings at most
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            print(f"python {' '.join(args)}: status {proc.returncode}: {errors[-500:]!r}",
                  file=sys.stderr)  # fmt: skip
    return wall, usage.ru_maxrss / 1024, proc.returncode  # ru_maxrss is in KiB on Linux


def floor_child(db: Path) -> int:
    """The floor under an export (see the module's notes): SQLite and Python's output
    alone, a batch of rows at a time as the exports read them."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        for query in (
            "SELECT analysis, model FROM sweeps",
            "SELECT result, summary FROM points WHERE deleted_at IS NULL",
        ):
            rows = conn.execute(query)
            while batch := rows.fetchmany(1000):
                sys.stdout.write("\n".join(f"{a}{b}" for a, b in batch))
    return 0


def history_child(report: Path, db: Path) -> int:
    """Runs inside the terminal: the normal `cpulab` start, reporting when the history the
    app loads in the background is shown."""
    import resource

    from cpulab import cli
    from cpulab.ui import app as app_module

    shown = app_module.CpulabApp.on_history_loaded

    def on_history_loaded(app, message) -> None:
        shown(app, message)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        report.write_text(json.dumps({"shown": time.time(), "peak": peak}))
        app.exit()

    app_module.CpulabApp.on_history_loaded = on_history_loaded
    return cli.main(["--db", str(db)])


def histories_shown(db: Path, runs: int, env: dict[str, str]) -> tuple[list[float], list[float]]:
    """Seconds until the app shows its history, and the UI process's peak MiB by then."""
    child = [sys.executable, __file__, "--history-child", str(db)]
    reports = app_reports(child, runs, env, timeout=300)
    return [r["shown"] - r["started"] for r in reports], [r["peak"] / 2**20 for r in reports]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="points per store")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "cpulab-stores")
    parser.add_argument("--src", type=Path, help="the cpulab `src` folder to measure")
    parser.add_argument("--only", help="comma-separated command names (COMMANDS, floor)")
    parser.add_argument("--app-runs", type=int, default=5, help="of the app; 0: none")
    parser.add_argument("--history-child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--floor-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.history_child:
        return history_child(Path(args.history_child[0]), Path(args.history_child[1]))
    if args.floor_child:
        return floor_child(args.floor_child)
    args.dir.mkdir(parents=True, exist_ok=True)
    sizes = [int(size) for size in args.sizes.split(",")]
    stores = {size: store_of(args.dir, size) for size in sizes}
    names = args.only.split(",") if args.only else [*COMMANDS, FLOOR]
    env = dict(os.environ)
    if args.src:
        env["PYTHONPATH"] = os.pathsep.join([str(args.src.resolve()), env.get("PYTHONPATH", "")])
    compile_package(env)  # each command loads what an installed cpulab loads
    figures: dict[tuple[int, str], list[tuple[float, float, int]]] = {}
    for _ in range(args.runs):  # interleaved: a slow spell of the machine hits every command
        for size in sizes:
            for name in names:
                argv = (
                    [__file__, "--floor-child", str(stores[size])]
                    if name == FLOOR
                    else ["-m", "cpulab", *COMMANDS[name], "--db", str(stores[size])]
                )
                figures.setdefault((size, name), []).append(measure(argv, env))
    print(f"{args.runs} runs each, interleaved; wall seconds and peak RSS (MiB), median "
          f"[min-max]; source: {args.src or 'this checkout'}\n")  # fmt: skip
    print("| points | command | seconds | peak MiB | runs (s) |")
    print("| --- | --- | --- | --- | --- |")
    for (size, name), runs in figures.items():
        seconds = [s for s, _, _ in runs]
        rss = [m for _, m, _ in runs]
        failed = sum(status != 0 for _, _, status in runs)
        print(
            f"| {size:,} | `{name}`{f' ({failed} failed)' if failed else ''} | "
            f"{statistics.median(seconds):.2f} [{min(seconds):.2f}-{max(seconds):.2f}] | "
            f"{statistics.median(rss):.0f} [{min(rss):.0f}-{max(rss):.0f}] | "
            f"{', '.join(f'{s:.2f}' for s in seconds)} |"
        )
    if FLOOR in names:
        print(f"\n`{FLOOR}`: the JSON export's texts, read and written as they are (no cpulab)")
    if args.app_runs:
        biggest = max(sizes)
        seconds, rss = first_frames(stores[biggest], args.app_runs, env)
        print(
            f"\nApp on the {biggest:,}-point store: first frame median "
            f"{statistics.median(seconds):.3f} s [{min(seconds):.3f}-{max(seconds):.3f}] "
            f"({', '.join(f'{s:.3f}' for s in seconds)}), "
            f"{statistics.median(rss):.0f} MiB RSS then"
        )
        seconds, peaks = histories_shown(stores[biggest], args.app_runs, env)
        print(
            f"history shown: median {statistics.median(seconds):.3f} s "
            f"[{min(seconds):.3f}-{max(seconds):.3f}] ({', '.join(f'{s:.3f}' for s in seconds)}), "
            f"peak {statistics.median(peaks):.0f} MiB RSS by then"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
