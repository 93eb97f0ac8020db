"""Time from starting `cpulab` to its first painted screen, and the UI process's memory.

    python bench/first_frame.py --runs 10 [--db PATH]

Each run starts the real command path (`cpulab` argument parsing, the results store, the
app) on a pseudo-terminal of 120x40 and records, when Textual reports the first frame
displayed, the wall time since just before the process was spawned and the process's
resident memory. Target: at most 0.5 s. The store is a new, empty one unless --db names
one (bench/store_scaling.py times the app on large stores this way).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from terminal import run_on_terminal


def child(report: Path, db: Path) -> int:
    """Runs inside the terminal: the normal `cpulab` start, reporting the first frame."""
    import psutil

    from cpulab import cli
    from cpulab.ui import app as app_module

    def on_ready(app) -> None:
        rss = psutil.Process().memory_info().rss
        report.write_text(json.dumps({"ready": time.time(), "rss": rss}))
        app.exit()

    app_module.CpulabApp.on_ready = on_ready
    return cli.main(["--db", str(db)])


def first_frames(db: Path, runs: int, env=None) -> tuple[list[float], list[float]]:
    """Seconds to the first frame and MiB resident then, of `runs` starts on store `db`."""
    work = Path(tempfile.mkdtemp())
    seconds, rss = [], []
    for run in range(runs):
        report = work / f"ready-{run}.json"
        command = [sys.executable, __file__, "--child", str(report), str(db)]
        started = time.time()
        status = run_on_terminal(command, (120, 40), timeout=30, env=env)
        if status != 0 or not report.exists():
            raise SystemExit(f"run {run} failed with status {status}")
        data = json.loads(report.read_text())
        seconds.append(data["ready"] - started)
        rss.append(data["rss"] / 2**20)
    return seconds, rss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--db", type=Path, help="the results store (default: a new one)")
    parser.add_argument("--child", nargs=2, metavar=("REPORT", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(Path(args.child[0]), Path(args.child[1]))
    db = args.db or Path(tempfile.mkdtemp()) / "r.sqlite"
    seconds, rss = first_frames(db, args.runs)
    print(f"first frame: median {statistics.median(seconds):.3f} s, "
          f"min {min(seconds):.3f}, max {max(seconds):.3f} over {args.runs} runs")  # fmt: skip
    print(f"UI process memory at first frame: median {statistics.median(rss):.0f} MiB RSS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
