"""Does measuring through cpulab change the time? cpulab against a plain script.

    python bench/fidelity.py --repeats 5
    python bench/fidelity.py --repeats 7 --against /tmp/release/src   # and another tree

For rf-train, cv-eval and grid-search at full scale on 1 and 2 cores (the task's own knob),
runs `cpulab run ... --json` and bench/plain_workload.py alternately, swapping which goes
first each round so drift favours neither, and reports each side's median time and the
median of the per-round ratios cpulab / plain. Target: 0.97 to 1.03.

--against SRC adds a third side, the cpulab of another source tree (its `src` folder: a
release, the commit before a change), in the same rounds, and the ratio of this tree to
it: what a change to the runner costs, apart from the machine's drift.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from functools import partial
from pathlib import Path

PLAIN = Path(__file__).with_name("plain_workload.py")
SPLITS = {  # cores -> (train, eval), on the knob each task is known for
    "rf-train": {1: (1, 1), 2: (2, 1)},
    "cv-eval": {1: (1, 1), 2: (1, 2)},
    "grid-search": {1: (1, 1), 2: (1, 2)},
}


def cpulab_seconds(task: str, train: int, eval_: int, db: Path, src: str | None = None) -> float:
    command = [
        sys.executable, "-m", "cpulab", "run", task, "--scale", "full",
        "--train", str(train), "--eval", str(eval_), "--db", str(db), "--json",
    ]  # fmt: skip
    env = os.environ if src is None else {**os.environ, "PYTHONPATH": src}
    out = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout)["fit_time"]


def plain_seconds(task: str, train: int, eval_: int) -> float:
    command = [sys.executable, str(PLAIN), task, str(train), str(eval_)]
    return float(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tasks", default=",".join(SPLITS))
    parser.add_argument("--cores", default="1,2")
    parser.add_argument("--against", metavar="SRC", help="another tree's src folder")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    other = ["other median s", "cpulab / other"] if args.against else []
    header = ["task", "split", "cpulab median s", "plain median s", *other[:1],
              "cpulab / plain", *other[1:], "cpulab / plain each round"]  # fmt: skip
    print("| " + " | ".join(header) + " |")
    print("|" + " --- |" * len(header))
    for task in args.tasks.split(","):
        for cores in map(int, args.cores.split(",")):
            train, eval_ = SPLITS[task][cores]
            sides = {
                "cpulab": partial(cpulab_seconds, task, train, eval_, folder / "this.sqlite"),
                "plain": partial(plain_seconds, task, train, eval_),
            }
            if args.against:
                sides["other"] = partial(
                    cpulab_seconds, task, train, eval_, folder / "other.sqlite", args.against
                )
            names = list(sides)
            times: dict[str, list[float]] = {name: [] for name in names}
            for round_ in range(args.repeats):
                # Each side goes first in turn, so drift favours none.
                shift = round_ % len(names)
                for name in names[shift:] + names[:shift]:
                    times[name].append(sides[name]())
            ratios = [a / b for a, b in zip(times["cpulab"], times["plain"], strict=True)]
            cells = [task, f"{train} x {eval_}", f"{statistics.median(times['cpulab']):.3f}",
                     f"{statistics.median(times['plain']):.3f}"]  # fmt: skip
            if args.against:
                cells.append(f"{statistics.median(times['other']):.3f}")
            cells.append(f"{statistics.median(ratios):.3f}")
            if args.against:
                mine = zip(times["cpulab"], times["other"], strict=True)
                cells.append(f"{statistics.median(a / b for a, b in mine):.3f}")
            cells.append(", ".join(f"{r:.3f}" for r in ratios))
            print("| " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
