"""Does watching a run in the app change its time? The app against `cpulab run` and a script.

    python bench/app_fidelity.py --rounds 5

For rf-train 2 x 1 and cv-eval 1 x 2 at full scale (every core busy on a 2-core machine:
the hardest case), each round measures the same point four ways, in an order that rotates
from round to round so that drift favours no side:

- `plain`: bench/plain_workload.py, scikit-learn and joblib only;
- `cli`: `cpulab run TASK --scale full --train T --eval E --json`;
- `app 80x24` and `app 200x60`: the real `cpulab` app on a pseudo-terminal of that size,
  driven by keys as a person would (choose the task, type the split, pick full scale,
  press r); its fit time is read from the results store it wrote.

For the app sides it also reports the app process's own CPU (its children excluded) from
the key press to the stored result, as a percentage of one core. Ratios are per round, and
the tables give medians. Targets: the app within 0.97-1.03 of both, its CPU at most 2 %.

    python bench/app_fidelity.py --rounds 3 --sides app80x24,app200x60 \
        --tasks grid-search,compare-regressors,compare-classifiers,digits-svc

measures the app's CPU during the other built-in tasks too (no plain script of those):
all cores to evaluation, on full scale.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from terminal import Terminal

PLAIN = Path(__file__).with_name("plain_workload.py")
CASES = {"rf-train": (2, 1), "cv-eval": (1, 2)}  # task -> (train, eval); others: 1 x 2
SIDES = ("plain", "cli", "app80x24", "app200x60")
TICK = 1 / 100  # /proc/PID/stat counts CPU in clock ticks


def plain_seconds(task: str, train: int, eval_: int, db: Path) -> float:
    command = [sys.executable, str(PLAIN), task, str(train), str(eval_)]
    return float(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def cli_seconds(task: str, train: int, eval_: int, db: Path) -> float:
    import json

    command = [
        sys.executable, "-m", "cpulab", "run", task, "--scale", "full",
        "--train", str(train), "--eval", str(eval_), "--db", str(db), "--json",
    ]  # fmt: skip
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)[
        "fit_time"
    ]


def own_cpu(pid: int) -> float:
    """CPU seconds of the process itself: user and system, not its children's."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK


def finished_points(db: Path) -> list:
    from cpulab.engine.store import ResultStore

    if not db.exists():
        return []
    with ResultStore.open(db, readonly=True) as store:
        return [p for p in store.points() if not p.result.partial]


def app_seconds(task: str, train: int, eval_: int, db: Path, size: tuple[int, int]):
    """The fit time the app measured, and the app's CPU in % of one core meanwhile."""
    from cpulab.engine.plugins import Catalogue

    row = list(Catalogue().tasks).index(task)
    done_before = len(finished_points(db))
    term = Terminal([sys.executable, "-m", "cpulab", "--db", str(db)], size)
    try:
        term.drawn()
        time.sleep(3.0)  # the spare runner imports scikit-learn: not part of the run
        # The task list has the focus; Enter on a task moves it to the training cores.
        term.press(*["down"] * row, "enter", *["up"] * (train - 1), "tab",
                   *["up"] * (eval_ - 1), "tab", "right", "enter")  # fmt: skip
        cpu, started = own_cpu(term.proc.pid), time.monotonic()
        term.press("r", pause=0)
        wal = db.with_name(db.name + "-wal")
        seen = None
        while True:
            time.sleep(0.1)
            mark = wal.stat().st_mtime_ns if wal.exists() else None
            if mark == seen:
                continue
            seen = mark
            points = finished_points(db)
            if len(points) > done_before:
                break
        used, wall = own_cpu(term.proc.pid) - cpu, time.monotonic() - started
        term.press("q", pause=0)
        term.wait(30)
    finally:
        term.close()
    result = points[-1].result
    if (result.task, result.train, result.eval, result.scale) != (task, train, eval_, "full"):
        ran = f"{result.task} {result.train} x {result.eval} {result.scale}"
        raise SystemExit(f"the keys ran {ran} instead of {task} {train} x {eval_} full")
    return result.fit_time, 100 * used / wall


def ratios(ours: list[float], theirs: list[float] | None) -> str:
    """The median of the per-round ratios, or nothing where that side was not measured."""
    if not theirs:
        return ""
    return f"{statistics.median(a / b for a, b in zip(ours, theirs, strict=True)):.3f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tasks", default=",".join(CASES))
    parser.add_argument("--sides", default=",".join(SIDES))
    args = parser.parse_args()
    db = Path(tempfile.mkdtemp()) / "app-fidelity.sqlite"
    sides = args.sides.split(",")
    if unknown := set(sides) - set(SIDES):
        parser.error(f"unknown sides: {', '.join(sorted(unknown))}")
    print("| task | split | side | median s | ratio to plain | ratio to cli | app CPU % |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for task in args.tasks.split(","):
        train, eval_ = CASES.get(task, (1, 2))
        times: dict[str, list[float]] = {side: [] for side in sides}
        cpu: dict[str, list[float]] = {side: [] for side in sides}
        for round_ in range(args.rounds):
            shift = round_ % len(sides)
            for side in sides[shift:] + sides[:shift]:
                if side == "plain":
                    times[side].append(plain_seconds(task, train, eval_, db))
                elif side == "cli":
                    times[side].append(cli_seconds(task, train, eval_, db))
                else:
                    size = tuple(map(int, side.removeprefix("app").split("x")))
                    seconds, percent = app_seconds(task, train, eval_, db, size)
                    times[side].append(seconds)
                    cpu[side].append(percent)
            line = ", ".join(f"{side} {times[side][-1]:.3f}" for side in sides)
            print(f"<!-- {task} round {round_ + 1}: {line} -->", flush=True)
        for side in sides:
            to_plain = ratios(times[side], times.get("plain"))
            to_cli = ratios(times[side], times.get("cli"))
            percents = cpu[side]
            shown_cpu = (
                f"{statistics.median(percents):.1f} ({', '.join(f'{p:.1f}' for p in percents)})"
                if percents
                else ""
            )
            print(
                f"| {task} | {train} x {eval_} | {side} | {statistics.median(times[side]):.3f} | "
                f"{to_plain} | {to_cli} | "
                f"{shown_cpu} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
