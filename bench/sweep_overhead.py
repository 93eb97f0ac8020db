"""How much longer a sweep takes than the work it measures.

    python bench/sweep_overhead.py --runs 5

The sweep is rf-train at small scale over 1 and 2 training cores, 3 repeats, no warm-up: six
measured fits. Each figure is a wall time against the sum of those six measured times, median
over --runs. Target: at most 1.10.

- `app`: in the app (headless, real sampler and runner), from asking for the sweep to its last
  result. The app keeps a spare runner that has imported scikit-learn while nobody waited,
  as it does between a person's runs; the benchmark lets it get ready first.
- `cli`: `cpulab sweep ... --json`, the whole command as a person waits for it: two fresh
  interpreters and the scikit-learn import (setup.imports) included.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ARGS = ["rf-train", "--scale", "small", "--cores", "1,2", "--strategy", "train",
        "--repeats", "3", "--warmup", "0"]  # fmt: skip
SPARE_READY = 3.0  # seconds for a spare runner to import scikit-learn, with room to spare


def measured(results) -> float:
    return sum(sum(r.fit_times) for r in results)


async def app_sweeps(runs: int) -> list[tuple[float, float]]:
    from cpulab.cli.parser import build_parser, plan_from_args
    from cpulab.ui.app import CpulabApp

    plan = plan_from_args(build_parser().parse_args(["sweep", *ARGS]))
    app = CpulabApp()
    figures = []
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(runs):
            await pilot.pause(SPARE_READY)
            before = len(app.results)
            started = time.perf_counter()
            app._sweep_planned(plan)  # what confirming the sweep dialog does
            while app.running or len(app.results) < before + 2:
                await asyncio.sleep(0.005)
            wall = time.perf_counter() - started
            figures.append((wall, measured(app.results[before:])))
        app.exit()
    return figures


def cli_sweeps(runs: int) -> list[tuple[float, float, float]]:
    db = Path(tempfile.mkdtemp()) / "sweeps.sqlite"
    figures = []
    for _ in range(runs):
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-m", "cpulab", "sweep", *ARGS, "--json", "--db", str(db)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        wall = time.perf_counter() - started
        points = json.loads(out.stdout)["points"]
        work = sum(sum(p["fit_times"]) for p in points)
        figures.append((wall, work, points[0]["setup"]["imports"]))
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    app = asyncio.run(app_sweeps(args.runs))
    ratios = [wall / work for wall, work in app]
    wall, work = (statistics.median(column) for column in zip(*app, strict=True))
    each = ", ".join(f"{r:.3f}" for r in ratios)
    print(f"app: sweep wall {wall:.3f} s, measured {work:.3f} s, "
          f"ratio {statistics.median(ratios):.3f} (each: {each})")  # fmt: skip

    cli = cli_sweeps(args.runs)
    ratios = [wall / work for wall, work, _ in cli]
    wall, work, imports = (statistics.median(column) for column in zip(*cli, strict=True))
    print(f"cli: command wall {wall:.3f} s, measured {work:.3f} s, "
          f"ratio {statistics.median(ratios):.3f}; of the {wall - work:.3f} s difference, "
          f"{imports:.3f} s is the scikit-learn import")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
