"""Two cpulab source trees side by side on the store commands, each on a store it reads.

    python bench/store_ab.py --before /tmp/before/src --before-db OLD.sqlite \
        --db NEW.sqlite --runs 5

A change of the store's schema is measured against the code before it, which cannot read
the new schema: each side gets the store of its own schema, holding the same results (the
"before" store the same file downgraded, or the one it made). The commands are
store_scaling.py's, run as real `cpulab` processes, output to /dev/null, the two sides
alternately in each round so that both meet the machine's same moments; wall time and
peak resident memory as store_scaling.py measures them. Prints the medians of each side
and their ratio (after / before).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from store_scaling import COMMANDS, measure


def env_of(src: Path | None) -> dict[str, str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(src.resolve()), env.get("PYTHONPATH", "")])
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="its `src` folder")
    parser.add_argument("--before-db", type=Path, required=True)
    parser.add_argument("--after", type=Path, help="its `src` folder (default: installed)")
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", help="comma-separated command names (see store_scaling.py)")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(COMMANDS)
    sides = {
        "before": (env_of(args.before), args.before_db),
        "after": (env_of(args.after), args.db),
    }
    seconds: dict[tuple[str, str], list[float]] = {}
    peaks: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.runs):
        for name in names:
            for side, (env, db) in sides.items():
                wall, peak, status = measure(["--db", str(db), *COMMANDS[name]], env)
                if status != 0:
                    return status
                seconds.setdefault((name, side), []).append(wall)
                peaks.setdefault((name, side), []).append(peak)
    print(f"{args.runs} rounds, the two sides alternately; wall seconds, median [min-max]")
    print()
    print("| command | before s | after s | after / before | peak MiB before, after |")
    print("| --- | --- | --- | --- | --- |")
    for name in names:
        row = []
        for side in sides:
            runs = seconds[(name, side)]
            row.append(f"{statistics.median(runs):.2f} [{min(runs):.2f}-{max(runs):.2f}]")
        ratio = statistics.median(seconds[(name, "after")]) / statistics.median(
            seconds[(name, "before")]
        )
        memory = ", ".join(f"{max(peaks[(name, side)]):.0f}" for side in sides)
        print(f"| `{name}` | {row[0]} | {row[1]} | {ratio:.2f} | {memory} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
