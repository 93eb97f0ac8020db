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

For the app sides it also reports the app process's own CPU (its children excluded), as a
percentage of one core, twice: over the whole run, from the key press to the stored result
(start-up, the result's table row and chart, and the storing included), and during the
measured call alone, from "fitting" first drawn on screen to "scoring" first drawn (or the
result's "✓", where the scoring was over before a sample drew it). CPU is
read from each thread's /proc/PID/task/TID/schedstat (nanoseconds; the kernel's tick
counts in /proc/PID/stat are too coarse for a 3-second window): every 0.1 s over the
whole run, the reading that sees the stored result being its end, and for the measured
call at the moment each of the two words is read from the terminal (a call of half a
second is too short to interpolate between readings 0.1 s apart: the run's start, drawn
just before it, would be counted in it). Ratios are per round, and
the tables give medians. Targets: the app within 0.97-1.03 of both, its CPU at most 2 %.

    python bench/app_fidelity.py --rounds 3 --sides app80x24,app200x60 \
        --tasks grid-search,compare-regressors,compare-classifiers,digits-svc

measures the app's CPU during the other built-in tasks too (no plain script of those):
all cores to evaluation, on full scale.

    python bench/app_fidelity.py --idle --rounds 5

measures the app's CPU with nothing running instead, 10 seconds after it has settled, at
both sizes: the cost of watching. With `--before SRC` (another checkout's src folder) each
app side is measured twice, alternately: as this tree has it and as SRC has it (put first
on PYTHONPATH, in a store of its own), so that a change is measured side by side with the
code before it, in the same hour. With `--niced` each app side is measured twice the same
way, the second time with every thread of the app set to nice 19 as `r` is pressed: whether
the app yielding the cores to the experiment would bring its fit time nearer the others'.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fidelity import cpulab_seconds, plain_seconds
from terminal import Terminal

CASES = {"rf-train": (2, 1), "cv-eval": (1, 2)}  # task -> (train, eval); others: 1 x 2
SIDES = ("plain", "cli", "app80x24", "app200x60")
DONE = "✓".encode()  # the status of a finished run


def own_cpu(pid: int) -> float:
    """CPU seconds of the process itself, all its threads, not its children's."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError):  # a thread that has just ended
            total += int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])
    return total / 1e9


def finished_points(db: Path) -> list:
    from cpulab.engine.store import ResultStore

    if not db.exists():
        return []
    with ResultStore.open(db, readonly=True) as store:
        return [p for p in store.points() if not p.result.partial]


def choose(term: Terminal, task: str, train: int, eval_: int) -> None:
    """Once the app has drawn and its spare runner has imported scikit-learn (not part of
    any run), type the task, the split and full scale as a person would; `r` is next."""
    from cpulab.engine.plugins import Catalogue

    row = list(Catalogue().tasks).index(task)
    term.drawn()
    time.sleep(3.0)
    # The task list has the focus; Enter on a task moves it to the training cores.
    term.press(*["down"] * row, "enter", *["up"] * (train - 1), "tab",
               *["up"] * (eval_ - 1), "tab", "right", "enter")  # fmt: skip


def app_seconds(
    task: str, train: int, eval_: int, db: Path, size: tuple[int, int], env=None, niced=False
):
    """The fit time the app measured, and the app's CPU in % of one core over the whole
    run and during the measured call; `niced`: every thread of the app at nice 19 from
    the key on (its runner, started ahead as a spare, keeps its own priority; one started
    at the key, where no spare was ready, would take the app's)."""
    done_before = len(finished_points(db))
    term = Terminal([sys.executable, "-m", "cpulab", "--db", str(db)], size, env)
    try:
        choose(term, task, train, eval_)
        term.watch("fitting", "scoring", DONE.decode(), note=lambda: own_cpu(term.proc.pid))
        if niced:  # Linux's nice is per thread
            for tid in os.listdir(f"/proc/{term.proc.pid}/task"):
                with contextlib.suppress(OSError):  # a thread that has just ended
                    os.setpriority(os.PRIO_PROCESS, int(tid), 19)
        started, cpu = time.monotonic(), own_cpu(term.proc.pid)
        term.press("r", pause=0)
        wal = db.with_name(db.name + "-wal")
        seen = None
        while True:
            time.sleep(0.1)
            ended, used = time.monotonic(), own_cpu(term.proc.pid)  # as the result is seen
            mark = wal.stat().st_mtime_ns if wal.exists() else None
            if mark == seen:
                continue
            seen = mark
            points = finished_points(db)
            if len(points) > done_before:
                break
        whole = 100 * (used - cpu) / (ended - started)
        # Phases are drawn with the next sample: a scoring phase shorter than a sample
        # period can end before it is drawn, and the result ("✓"), drawn just after the
        # store has it, then ends the call.
        ends = (b"scoring", DONE)
        deadline = time.monotonic() + 5.0
        while not any(word in term.seen for word in ends) and time.monotonic() < deadline:
            time.sleep(0.02)
        end = next((word for word in ends if word in term.seen), b"scoring")
        fit, score = term.seen[b"fitting"], term.seen[end]
        cpu_fit, cpu_score = term.noted[b"fitting"], term.noted[end]
        if cpu_fit is None or cpu_score is None:
            raise SystemExit("the app's CPU could not be read as the measured call began or ended")
        during = 100 * (cpu_score - cpu_fit) / (score - fit)
        term.press("q", pause=0)
        term.wait(30)
    finally:
        term.close()
    result = points[-1].result
    if (result.task, result.train, result.eval, result.scale) != (task, train, eval_, "full"):
        ran = f"{result.task} {result.train} x {result.eval} {result.scale}"
        raise SystemExit(f"the keys ran {ran} instead of {task} {train} x {eval_} full")
    return result.fit_time, whole, during


def idle_cpu(size: tuple[int, int], db: Path, env=None, seconds: float = 10.0) -> float:
    """The app's CPU in % of one core while it only watches, once it has settled."""
    term = Terminal([sys.executable, "-m", "cpulab", "--db", str(db)], size, env)
    try:
        term.drawn()
        time.sleep(5.0)  # the spare runner's import of scikit-learn is its own process
        started, cpu = time.monotonic(), own_cpu(term.proc.pid)
        time.sleep(seconds)
        used = own_cpu(term.proc.pid) - cpu
        percent = 100 * used / (time.monotonic() - started)
        term.press("q", pause=0)
        term.wait(30)
    finally:
        term.close()
    return percent


def ratios(ours: list[float], theirs: list[float] | None) -> str:
    """The median of the per-round ratios, or nothing where that side was not measured."""
    if not theirs:
        return ""
    return f"{statistics.median(a / b for a, b in zip(ours, theirs, strict=True)):.3f}"


def percents(values: list[float]) -> str:
    """The median, then every round's figure; nothing for a side that has none."""
    if not values:
        return ""
    return f"{statistics.median(values):.1f} ({', '.join(f'{v:.1f}' for v in values)})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tasks", default=",".join(CASES))
    parser.add_argument("--sides", default=",".join(SIDES))
    parser.add_argument("--idle", action="store_true", help="the app's CPU with no run")
    twins = parser.add_mutually_exclusive_group()
    twins.add_argument("--before", type=Path, metavar="SRC", help="the app sides from SRC too")
    twins.add_argument(
        "--niced", action="store_true", help="each app side again, the app at nice 19"
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    db = folder / "app-fidelity.sqlite"
    # The app as SRC has it: its own store, whose schema may be older than this tree's.
    before = {"PYTHONPATH": str(args.before.resolve())} if args.before else None
    before_db = folder / "app-fidelity-before.sqlite"
    if args.idle:
        places = [(f"{w}x{h}", (w, h), None, db) for w, h in ((80, 24), (200, 60))]
        if before:
            places += [(f"{name} before", size, before, before_db) for name, size, *_ in places]
        idle: dict[str, list[float]] = {name: [] for name, *_ in places}
        for _ in range(args.rounds):
            for name, size, env, store in places:
                idle[name].append(idle_cpu(size, store, env))
        print("| size | app CPU %, idle |")
        print("| --- | --- |")
        for name, values in idle.items():
            print(f"| {name} | {percents(values)} |")
        return 0
    sides = args.sides.split(",")
    if unknown := set(sides) - set(SIDES):
        parser.error(f"unknown sides: {', '.join(sorted(unknown))}")
    twin = "before" if before else "niced" if args.niced else None
    if twin:  # each app side again, from SRC or niced, next to it
        sides = [
            named
            for side in sides
            for named in ((side, f"{side} {twin}") if side.startswith("app") else (side,))
        ]
    print("| task | split | side | median s | ratio to plain | ratio to cli "
          "| app CPU %, whole run | app CPU %, measured call |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for task in args.tasks.split(","):
        train, eval_ = CASES.get(task, (1, 2))
        times: dict[str, list[float]] = {side: [] for side in sides}
        whole: dict[str, list[float]] = {side: [] for side in sides}
        during: dict[str, list[float]] = {side: [] for side in sides}
        for round_ in range(args.rounds):
            shift = round_ % len(sides)
            for side in sides[shift:] + sides[:shift]:
                if side == "plain":
                    times[side].append(plain_seconds(task, train, eval_))
                elif side == "cli":
                    times[side].append(cpulab_seconds(task, train, eval_, db))
                else:
                    name, _, variant = side.partition(" ")
                    size = tuple(map(int, name.removeprefix("app").split("x")))
                    env, store = (before, before_db) if variant == "before" else (None, db)
                    seconds, run_cpu, call_cpu = app_seconds(
                        task, train, eval_, store, size, env, niced=variant == "niced"
                    )
                    times[side].append(seconds)
                    whole[side].append(run_cpu)
                    during[side].append(call_cpu)
            line = ", ".join(f"{side} {times[side][-1]:.3f}" for side in sides)
            print(f"<!-- {task} round {round_ + 1}: {line} -->", flush=True)
        for side in sides:
            to_plain = ratios(times[side], times.get("plain"))
            to_cli = ratios(times[side], times.get("cli"))
            print(
                f"| {task} | {train} x {eval_} | {side} | {statistics.median(times[side]):.3f} | "
                f"{to_plain} | {to_cli} | {percents(whole[side])} | {percents(during[side])} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
