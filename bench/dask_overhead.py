"""What running on Dask costs against joblib's own workers on the same cores.

    python bench/dask_overhead.py --runs 5

cv-eval and grid-search at full scale, each as `cpulab run TASK --dask local:N --json` (a
LocalCluster of N one-thread workers started by the run) and `cpulab run TASK --eval N
--json` (loky, N workers), alternating, --runs times each (N = --cores, default 2). The
figure is each command's measured time (its fit time: workers started and warmed before
it, as cpulab always does); the table gives the median of each and their ratio, Dask over
local. Target: at most 1.2.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

TASKS = ("cv-eval", "grid-search")
TARGET = 1.2


def measured(task: str, where: list[str], db: Path, warmup: int) -> tuple[float, float]:
    """One `cpulab run`: its measured time and its workers' setup (seconds)."""
    out = subprocess.run(
        [sys.executable, "-m", "cpulab", "run", task, "--scale", "full", *where,
         "--warmup", str(warmup), "--json", "--db", str(db)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    result = json.loads(out.stdout)
    return result["fit_time"], result["setup"]["workers"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=0, help="warm-up calls per command")
    parser.add_argument("--tasks", default=",".join(TASKS), help="which tasks (default: both)")
    args = parser.parse_args()
    db = Path(tempfile.mkdtemp()) / "dask_overhead.sqlite"
    ways = {
        "dask": ["--dask", f"local:{args.cores}"],
        "local": ["--eval", str(args.cores)],
    }
    print(f"| task | `--dask local:{args.cores}` s | `--eval {args.cores}` s | ratio | "
          "Dask runs s | local runs s | Dask setup s |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- |")
    worst = 0.0
    for task in args.tasks.split(","):
        times: dict[str, list[float]] = {way: [] for way in ways}
        setups: list[float] = []
        for _ in range(args.runs):
            for way, where in ways.items():  # interleaved: drift favours neither
                seconds, setup = measured(task, where, db, args.warmup)
                times[way].append(seconds)
                if way == "dask":
                    setups.append(setup)
        dask, local = (statistics.median(times[way]) for way in ways)
        worst = max(worst, dask / local)
        print(
            f"| {task} | {dask:.3f} | {local:.3f} | {dask / local:.2f} | "
            f"{', '.join(f'{t:.2f}' for t in times['dask'])} | "
            f"{', '.join(f'{t:.2f}' for t in times['local'])} | "
            f"{statistics.median(setups):.2f} |",
            flush=True,
        )
    print(f"\nworst ratio {worst:.2f} (target: at most {TARGET})")
    return 0 if worst <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
