"""Does measuring through cpulab change the time? cpulab against a plain script.

    python bench/fidelity.py --repeats 5

For rf-train, cv-eval and grid-search at full scale on 1 and 2 cores (the task's own knob),
runs `cpulab run ... --json` and bench/plain_workload.py alternately, swapping which goes
first each round so drift favours neither, and reports each side's median time and the
median of the per-round ratios cpulab / plain. Target: 0.97 to 1.03.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PLAIN = Path(__file__).with_name("plain_workload.py")
SPLITS = {  # cores -> (train, eval), on the knob each task is known for
    "rf-train": {1: (1, 1), 2: (2, 1)},
    "cv-eval": {1: (1, 1), 2: (1, 2)},
    "grid-search": {1: (1, 1), 2: (1, 2)},
}


def cpulab_seconds(task: str, train: int, eval_: int, db: Path) -> float:
    command = [
        sys.executable, "-m", "cpulab", "run", task, "--scale", "full",
        "--train", str(train), "--eval", str(eval_), "--db", str(db), "--json",
    ]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["fit_time"]


def plain_seconds(task: str, train: int, eval_: int) -> float:
    command = [sys.executable, str(PLAIN), task, str(train), str(eval_)]
    return float(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tasks", default=",".join(SPLITS))
    parser.add_argument("--cores", default="1,2")
    args = parser.parse_args()
    db = Path(tempfile.mkdtemp()) / "fidelity.sqlite"
    print("| task | split | cpulab median s | plain median s | median ratio | ratios |")
    print("| --- | --- | --- | --- | --- | --- |")
    for task in args.tasks.split(","):
        for cores in map(int, args.cores.split(",")):
            train, eval_ = SPLITS[task][cores]
            ours, theirs, ratios = [], [], []
            for round_ in range(args.repeats):
                order = (0, 1) if round_ % 2 == 0 else (1, 0)
                pair = [0.0, 0.0]
                for side in order:
                    if side == 0:
                        pair[0] = cpulab_seconds(task, train, eval_, db)
                    else:
                        pair[1] = plain_seconds(task, train, eval_)
                ours.append(pair[0])
                theirs.append(pair[1])
                ratios.append(pair[0] / pair[1])
            print(
                f"| {task} | {train} x {eval_} | {statistics.median(ours):.3f} | "
                f"{statistics.median(theirs):.3f} | {statistics.median(ratios):.3f} | "
                f"{', '.join(f'{r:.3f}' for r in ratios)} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
