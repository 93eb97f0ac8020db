"""How close `cpulab advise` comes to the best split, and at what share of the grid's cost.

    python bench/advise_simulation.py --seeds 20
    python bench/advise_simulation.py --seeds 20 --budget-share 1.0

The search (`cpulab.engine.advise`) runs against simulated machines of 16, 64 and 256 cores
(`cpulab.engine.advise_sim`): each kind of workload is a USL-like model of training x
evaluation (x BLAS threads for the BLAS-sensitive kind, searched with --blas 1,2,4,8), with
lognormal noise on every run (--noise, default 0.05) and 2 s of start-up a batch. The
exhaustive grid is every split of every power of two up to the cores, 3 repeats each, in one
batch: its cost is counted the same way, noise-free. The budget given to the search is
--budget-share of that cost (default 0.25).

Per cell, over --seeds seeds: the ratio of the recommended setting's true time to the true
best of the grid (median and worst; target: within 1.05), the share of the grid's cost the
search spent (median and max; target: at most 0.25), and how many searches settled and how
many the budget stopped.
"""

from __future__ import annotations

import argparse
import statistics
import time

from cpulab.engine.advise import SETTLED, AdviceRequest, advise
from cpulab.engine.advise_sim import KINDS, SimulatedMachine

CORES = (16, 64, 256)
KNOBS = frozenset({"train", "eval"})
BLAS = {"blas-sensitive": (1, 2, 4, 8)}


def cell(cores: int, kind: str, seeds: int, share: float, noise: float) -> list[str]:
    blas = BLAS.get(kind, ())
    truth = SimulatedMachine(cores, 0, noise, kind)
    grid = truth.grid(KNOBS, blas)
    cost = truth.grid_cost(grid)
    best, best_time = truth.best(grid)
    budget = share * cost
    ratios, shares, settled, runs = [], [], 0, []
    for seed in range(seeds):
        machine = SimulatedMachine(cores, seed, noise, kind, budget=budget)
        advice = advise(AdviceRequest(cores, budget, KNOBS, blas), machine)
        ratios.append(machine.time(advice.best.setting) / best_time)
        shares.append(advice.spent / cost)
        settled += advice.stopped == SETTLED
        runs.append(advice.runs)
    return [
        str(cores),
        kind,
        str(len(grid)),
        f"{cost:,.0f}",
        best.label(),
        f"{statistics.median(ratios):.3f}",
        f"{max(ratios):.3f}",
        f"{sum(r <= 1.05 for r in ratios)}/{seeds}",
        f"{statistics.median(shares):.3f}",
        f"{max(shares):.3f}",
        f"{settled} / {seeds - settled}",
        f"{statistics.median(runs):.0f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="searches per cell (default 20)")
    parser.add_argument(
        "--budget-share",
        type=float,
        default=0.25,
        help="the budget as a share of the grid's cost (default 0.25)",
    )
    parser.add_argument(
        "--noise", type=float, default=0.05, help="lognormal sigma of each run (default 0.05)"
    )
    args = parser.parse_args()
    header = [
        "cores",
        "kind",
        "grid settings",
        "grid s",
        "true best",
        "median ratio",
        "worst ratio",
        "within 5 %",
        "median share",
        "max share",
        "settled / budget",
        "median runs",
    ]
    print("| " + " | ".join(header) + " |")
    print("| " + " | ".join("---" for _ in header) + " |")
    started = time.perf_counter()
    for cores in CORES:
        for kind in KINDS:
            print(
                "| "
                + " | ".join(cell(cores, kind, args.seeds, args.budget_share, args.noise))
                + " |"
            )
    searches = len(CORES) * len(KINDS) * args.seeds
    print(f"\n{time.perf_counter() - started:.1f} s for {searches} searches")


if __name__ == "__main__":
    main()
