"""How much longer a sweep takes than the work it measures.

    python bench/sweep_overhead.py --runs 5

Runs `cpulab sweep rf-train --scale small --cores 1,2 --repeats 3 --warmup 0 --json`
and compares its wall time (the whole command, as a person waits for it) with the sum of
its points' measured times. Also splits the difference into what every sweep pays once
(interpreter start and scikit-learn imports, as reported in setup.imports) and the rest,
which is cpulab's own cost per point: data, worker start-up, events, sampling, storing.
Target: wall / measured at most 1.10. Medians over --runs.
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

SWEEP = ["sweep", "rf-train", "--scale", "small", "--cores", "1,2", "--repeats", "3",
         "--warmup", "0", "--json"]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    db = Path(tempfile.mkdtemp()) / "sweeps.sqlite"
    walls, measured, imports = [], [], []
    for _ in range(args.runs):
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-m", "cpulab", *SWEEP, "--db", str(db)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        walls.append(time.perf_counter() - started)
        points = json.loads(out.stdout)["points"]
        measured.append(sum(sum(p["fit_times"]) for p in points))
        imports.append(points[0]["setup"]["imports"])
    wall, work, once = map(statistics.median, (walls, measured, imports))
    print(f"sweep wall {wall:.3f} s, measured {work:.3f} s: ratio {wall / work:.2f}")
    print(f"of the {wall - work:.3f} s difference, scikit-learn imports {once:.3f} s "
          f"and the rest {wall - work - once:.3f} s")  # fmt: skip
    print(f"ratio without the one-off imports: {(wall - once) / work:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
