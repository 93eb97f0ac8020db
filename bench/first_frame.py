"""Time from starting `cpulab` to its first painted screen, and the UI process's memory.

    python bench/first_frame.py --runs 10 [--db PATH] [--no-bare]

Each run starts the real command path (`cpulab` argument parsing, the results store, the
app) on a pseudo-terminal of 120x40 and records, when Textual reports the first frame
displayed, the wall time since just before the process was spawned and the process's
resident memory. Target: at most 0.5 s. Between cpulab's starts a bare Textual app (a
header, a line, a footer) is timed the same way (unless --no-bare): what any Textual app
takes on this machine in this hour. The store is a new, empty one unless --db names
one (bench/store_scaling.py times the app on large stores this way). The package's bytecode
is compiled first: it measures what an installed cpulab loads, bytecode included.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from terminal import run_on_terminal


def child(report: Path, db: Path) -> int:
    """Runs inside the terminal: the normal `cpulab` start, reporting the first frame."""
    from cpulab.startup import hold_collector

    hold_collector()  # as the console script's entry (cpulab.startup.main) does first
    import psutil

    from cpulab import cli
    from cpulab.ui import app as app_module

    def on_ready(app) -> None:
        rss = psutil.Process().memory_info().rss
        report.write_text(json.dumps({"ready": time.time(), "rss": rss}))
        app.exit()

    app_module.CpulabApp.on_ready = on_ready
    return cli.main(["--db", str(db)])


def bare_child(report: Path) -> int:
    """Runs inside the terminal: a bare Textual app (a header, a line of text, a footer),
    reporting its first frame: what any Textual app costs on this machine at this hour."""
    import psutil
    from textual.app import App, ComposeResult
    from textual.widgets import Footer, Header, Static

    class Bare(App):
        def compose(self) -> ComposeResult:
            yield Header()
            yield Static("first frame")
            yield Footer()

        def on_ready(self) -> None:
            rss = psutil.Process().memory_info().rss
            report.write_text(json.dumps({"ready": time.time(), "rss": rss}))
            self.exit()

    Bare().run()
    return 0


def app_reports(child: list[str], runs: int, env=None, timeout: float = 30) -> list[dict]:
    """Start `child` (a script's child mode, which writes a JSON report to the path put
    after it, then the store) `runs` times on a 120x40 terminal; each report gets
    "started", the time just before the spawn."""
    work = Path(tempfile.mkdtemp())
    reports = []
    for run in range(runs):
        report = work / f"report-{run}.json"
        started = time.time()
        status = run_on_terminal([*child[:-1], str(report), child[-1]], (120, 40), timeout, env)
        if status != 0 or not report.exists():
            raise SystemExit(f"run {run} failed with status {status}")
        reports.append({**json.loads(report.read_text()), "started": started})
    return reports


def compile_package(env=None) -> None:
    """Write the bytecode of the cpulab that `env` (PYTHONPATH) imports, as `pip install`
    does: an editable install run with PYTHONDONTWRITEBYTECODE=1 would otherwise compile
    every module at every start."""
    code = "import compileall, cpulab, os; compileall.compile_dir(os.path.dirname(cpulab.__file__))"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, stdout=subprocess.DEVNULL)


def first_frames(db: Path, runs: int, env=None) -> tuple[list[float], list[float]]:
    """Seconds to the first frame and MiB resident then, of `runs` starts on store `db`
    (the package's bytecode compiled first)."""
    compile_package(env)
    reports = app_reports([sys.executable, __file__, "--child", str(db)], runs, env)
    return [r["ready"] - r["started"] for r in reports], [r["rss"] / 2**20 for r in reports]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--db", type=Path, help="the results store (default: a new one)")
    parser.add_argument(
        "--no-bare",
        action="store_true",
        help="leave out the bare Textual app started between cpulab's starts",
    )
    parser.add_argument("--child", nargs=2, metavar=("REPORT", "DB"), help=argparse.SUPPRESS)
    parser.add_argument("--bare-child", nargs=2, metavar=("REPORT", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(Path(args.child[0]), Path(args.child[1]))
    if args.bare_child:
        return bare_child(Path(args.bare_child[0]))
    db = args.db or Path(tempfile.mkdtemp()) / "r.sqlite"
    # Alternately with a bare Textual app, whose first frame says how fast this machine is
    # at this hour: its speed drifts by half from hour to hour.
    compile_package()
    sides = {"cpulab": [sys.executable, __file__, "--child", str(db)]}
    if not args.no_bare:
        sides["bare"] = [sys.executable, __file__, "--bare-child", str(db)]
    reports: dict[str, list[dict]] = {side: [] for side in sides}
    for _ in range(args.runs):
        for side, command in sides.items():
            reports[side] += app_reports(command, 1)
    seconds = [r["ready"] - r["started"] for r in reports["cpulab"]]
    rss = [r["rss"] / 2**20 for r in reports["cpulab"]]
    bare = [r["ready"] - r["started"] for r in reports.get("bare", [])]
    print(f"first frame: median {statistics.median(seconds):.3f} s, "
          f"min {min(seconds):.3f}, max {max(seconds):.3f} over {args.runs} runs")  # fmt: skip
    print(f"UI process memory at first frame: median {statistics.median(rss):.0f} MiB RSS")
    if bare:
        own = statistics.median(seconds) - statistics.median(bare)
        print(f"a bare Textual app's first frame, started alternately: median "
              f"{statistics.median(bare):.3f} s, min {min(bare):.3f}, max {max(bare):.3f}; "
              f"cpulab's own share: {own:.3f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
