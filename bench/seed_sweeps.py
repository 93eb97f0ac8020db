"""Full-scale sweeps of the three seed experiments, beside the seed article's figures.

    python bench/seed_sweeps.py --cores 1,2 --repeats 3 --warmup 1 --db /tmp/seed.sqlite

Runs `cpulab sweep` for rf-train (training cores), cv-eval and grid-search (every split),
stores the points in --db, and prints Markdown for docs/PERFORMANCE.md: each sweep's
table and fit, then the seed's published times at the same core counts.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

# The seed article's single runs, on its 4-core / 8-thread machine: seconds by cores.
# rf-train and cv-eval: its 1..8-core loops; grid-search: its 1-core and 8-core runs.
SEED_SECONDS = {
    "rf-train": {1: 10.798, 2: 5.743, 3: 3.964, 4: 3.158, 5: 2.868, 6: 2.631, 7: 2.528, 8: 2.440},
    "cv-eval": {1: 6.339, 2: 3.765, 3: 2.404, 4: 1.826, 5: 1.806, 6: 1.686, 7: 1.587, 8: 1.492},
    "grid-search": {1: 28.838, 8: 7.418},
}
SWEEPS = (("rf-train", "train"), ("cv-eval", "grid"), ("grid-search", "grid"))


def run_sweep(task: str, strategy: str, args: argparse.Namespace) -> dict:
    command = [
        sys.executable, "-m", "cpulab", "sweep", task, "--scale", "full",
        "--cores", args.cores, "--strategy", strategy, "--repeats", str(args.repeats),
        "--warmup", str(args.warmup), "--db", str(args.db), "--json",
    ]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def seed_table(task: str, cores: list[int], doc: dict) -> str:
    """Our best split per core count beside the seed's time at that count."""
    best = {p["cores"]: p for p in doc["analysis"]["best_per_cores"]}
    seed = SEED_SECONDS[task]
    lines = [
        "| cores | cpulab best split | cpulab median s | cpulab speedup | seed s | seed speedup |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for p in cores:
        ours = best.get(p)
        if ours is None:
            continue
        seed_s = seed.get(p)
        seed_gain = f"{seed[1] / seed_s:.2f}" if seed_s and 1 in seed else "-"
        speedup = "-" if ours["speedup"] is None else f"{ours['speedup']:.2f}"
        lines.append(
            f"| {p} | {ours['train']} x {ours['eval']} | {ours['stats']['median']:.3f} | "
            f"{speedup} | {seed_s if seed_s else '-'} | {seed_gain} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cores", default="1,2")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--db", type=Path, default=Path("seed-sweeps.sqlite"))
    args = parser.parse_args()
    for task, strategy in SWEEPS:
        doc = run_sweep(task, strategy, args)
        cores = sorted({p["cores"] for p in doc["analysis"]["points"]})
        print(f"### {task}: strategy {strategy}, sweep {doc['sweep']['id']}\n")
        print(seed_table(task, cores, doc) + "\n")
        fit = doc["analysis"]["fit"]
        if fit:
            print(
                f"Fit T(p) = {fit['a']:.3f} + {fit['b']:.3f}/p s, serial fraction "
                f"{fit['serial_fraction']:.3f}.\n"
            )
    export = [
        sys.executable,
        "-m",
        "cpulab",
        "export",
        "--format",
        "markdown",
        "--db",
        str(args.db),
    ]
    print(subprocess.run(export, capture_output=True, text=True, check=True).stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
