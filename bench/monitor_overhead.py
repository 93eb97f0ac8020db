"""CPU the app itself uses while it watches, and what one core sample costs.

    python bench/monitor_overhead.py --seconds 10 --runs 3

Three cases, each the app on a 160x50 pseudo-terminal at the default 4 samples a second:
- `real`: the real sampler on this machine, with a full-scale grid-search 1 x 2 running;
- `fake-64`, `fake-256`: a fake sampler whose 64 or 256 cores change every sample.
For each, the app process's own CPU time (its children excluded) over the window, as a
percentage of one core, median of --runs. (The kernel counts CPU time in ticks of 10 ms: over
10 s one tick is 0.1 % of a core.) Targets: at most 2 % at 64 cores, 4 % at 256. Then the real
sampler's CPU cost per sample (thread CPU time around `sample()`, its pacing sleep excluded).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from terminal import run_on_terminal

TESTS = Path(__file__).resolve().parents[1] / "tests"  # the fake sampler is a test helper
SETTLE = 3.0  # seconds after the first frame before measuring: start-up is not monitoring


def child(case: str, seconds: float, report: Path) -> int:
    import psutil

    from cpulab.ui.app import CpulabApp

    sys.path.insert(0, str(TESTS))
    from support.fake_sampler import FakeSampler

    me = psutil.Process()

    def cpu() -> float:
        times = me.cpu_times()
        return times.user + times.system

    if case == "real":
        app = CpulabApp()
    else:
        cores = int(case.split("-")[1])
        rng = random.Random(cores)
        frames = [[rng.uniform(0, 100) for _ in range(cores)] for _ in range(40)]
        app = CpulabApp(sampler=FakeSampler(frames, tree_cores=cores / 2))

    def on_ready(app) -> None:
        if case == "real":  # grid-search, full scale, both cores to the search
            app.query_one("#tasks").highlighted = 2
            app.query_one("#scale").query("RadioButton").last().value = True
            app.call_after_refresh(lambda: setattr(app.query_one("#eval"), "value", "2"))
            app.call_later(lambda: app.call_after_refresh(app.action_run))
        start = {}

        def begin() -> None:
            start.update(cpu=cpu(), wall=time.monotonic())

        def end() -> None:
            used, wall = cpu() - start["cpu"], time.monotonic() - start["wall"]
            report.write_text(json.dumps({"percent": 100 * used / wall, "running": app.running}))
            app.stop_run_now()
            app.exit()

        app.set_timer(SETTLE, begin)
        app.set_timer(SETTLE + seconds, end)

    CpulabApp.on_ready = on_ready
    app.run()
    return 0


def sample_cost(samples: int = 40) -> tuple[float, float]:
    """Median and max thread-CPU milliseconds of one real sample on this machine."""

    from cpulab.monitor.sampler import MIN_INTERVAL, PsutilSampler

    sampler = PsutilSampler()
    costs = []
    for _ in range(samples):
        time.sleep(MIN_INTERVAL)
        before = time.thread_time()
        sampler.sample()
        costs.append(1000 * (time.thread_time() - before))
    return statistics.median(costs), max(costs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--cases", default="real,fake-64,fake-256")
    parser.add_argument("--runs", type=int, default=3, help="of each case; the median counts")
    parser.add_argument("--child", nargs=2, metavar=("CASE", "REPORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child[0], args.seconds, Path(args.child[1]))
    work = Path(tempfile.mkdtemp())
    env = {"CPULAB_DB": str(work / "r.sqlite")}
    for case in args.cases.split(","):
        percents, running = [], True
        for attempt in range(args.runs):
            report = work / f"{case}-{attempt}.json"
            command = [sys.executable, __file__, "--seconds", str(args.seconds),
                       "--child", case, str(report)]  # fmt: skip
            run_on_terminal(command, (160, 50), timeout=args.seconds + 60, env=env)
            data = json.loads(report.read_text())
            percents.append(data["percent"])
            running = running and data["running"]
        during = " (a run going throughout)" if running else ""
        each = ", ".join(f"{p:.2f}" for p in percents)
        print(f"{case}: median {statistics.median(percents):.2f} % of one core{during} ({each})")
    median, most = sample_cost()
    print(f"one real sample: median {median:.2f} ms CPU, max {most:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
