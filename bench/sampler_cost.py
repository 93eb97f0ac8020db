"""CPU one reading of a run's process tree costs, with 0, 64 and 256 processes in the tree.

    python bench/sampler_cost.py --runs 5 --samples 30

For each size, an idle tree: a root and children with three grandchildren each, in a run
cgroup where the machine lets cpulab make one. Side by side, in the same rounds:
- app psutil: the app's sampler, `PsutilSampler.sample`, reading the tree through psutil
  as it did before /proc was read directly (still the fallback where there is no /proc);
- app /proc: the same sampler reading /proc itself, the cgroup left unused;
- app cgroup: the same sampler as it runs by default, reading the run's cgroup;
- runner psutil, runner /proc: the runner's `TreeMeter.sample` (memory too) both ways.
A figure is the thread CPU time of one sample: the median of --samples samples after a
warm-up, then the median over --runs rounds, with the lowest and highest round. "first"
is the first sample after `watch`, which reads every process on the machine once. Target:
at most 5 ms a sample with 256 processes in the tree.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"  # the tree builder is a test helper
SIZES = (0, 64, 256)


def machine_processes() -> int:
    return sum(name.isdigit() for name in os.listdir("/proc"))


def cost(sample: Callable[[], object], samples: int, pause: float) -> float:
    """Median thread-CPU milliseconds of one call."""
    costs = []
    for _ in range(samples):
        time.sleep(pause)  # a little like 4 Hz: not back to back in a warm cache
        before = time.thread_time()
        sample()
        costs.append(1000 * (time.thread_time() - before))
    return statistics.median(costs)


def samplers(pid: int, cgroup: bool) -> dict[str, Callable[[], Callable[[], object]]]:
    """Each case's maker of a sampler, watching `pid`: its `sample`, the first call done
    by whoever times it."""
    from cpulab.engine.proctree import ProcTree, PsutilTree
    from cpulab.engine.treemeter import TreeMeter
    from cpulab.monitor.sampler import PsutilSampler

    def app(**options: object) -> Callable[[], object]:
        # A clock that moves a second a call: no pacing sleep between samples.
        clock = itertools.count(step=1.0).__next__
        sampler = PsutilSampler(clock=clock, **options)
        sampler.watch(pid)
        return sampler.sample

    cases: dict[str, Callable[[], Callable[[], object]]] = {
        "app psutil": partial(app, reader=partial(PsutilTree, memory=False), cgroups=False),
        "app /proc": partial(app, reader=ProcTree, cgroups=False),
    }
    if cgroup:
        cases["app cgroup"] = app
    cases["runner psutil"] = lambda: TreeMeter(pid, reader=PsutilTree).sample
    cases["runner /proc"] = lambda: TreeMeter(pid, reader=ProcTree).sample
    return cases


@dataclass
class Row:
    size: int  # processes in the tree besides its root
    machine: int  # processes on the machine while it was measured
    steady: dict[str, list[float]]  # case -> each round's median ms
    first: dict[str, list[float]]  # case -> each round's first sample, ms


def measure(size: int, runs: int, samples: int, pause: float) -> Row:
    from cpulab.engine.cgroup import RunCgroup

    sys.path.insert(0, str(TESTS))
    from support.trees import Tree, fan

    group = RunCgroup.create()
    shape = {"kids": fan(size // 4, 3) + fan(size % 4)}
    tree = Tree(shape, before_go=group.add if group is not None else None)
    try:
        makers = samplers(tree.pid, group is not None)
        row = Row(size, machine_processes(), {n: [] for n in makers}, {n: [] for n in makers})
        for _ in range(runs):
            for name, make in makers.items():  # interleaved: drift favours no case
                sample = make()
                row.first[name].append(cost(sample, 1, pause))
                sample()  # warm-up
                row.steady[name].append(cost(sample, samples, pause))
        return row
    finally:
        tree.close()
        if group is not None:
            group.remove()


def cell(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="rounds; the median counts")
    parser.add_argument("--samples", type=int, default=30, help="a round's samples per case")
    parser.add_argument("--pause", type=float, default=0.02, help="seconds between samples")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    rows = [measure(size, args.runs, args.samples, args.pause) for size in sizes]
    cases = list(rows[0].steady)
    from cpulab.engine.proctree import files_to_keep

    print(f"stat files a /proc reader keeps open: at most {files_to_keep()}")
    print(f"ms of CPU a sample: median of {args.runs} rounds (lowest-highest round)\n")
    print("| tree | machine | " + " | ".join(cases) + " |")
    print("|---:|---:|" + "---:|" * len(cases))
    for row in rows:
        cells = " | ".join(cell(row.steady[case]) for case in cases)
        print(f"| {row.size} | {row.machine} | {cells} |")
    print("\nThe first sample after watch, ms (median of rounds):\n")
    print("| tree | " + " | ".join(cases) + " |")
    print("|---:|" + "---:|" * len(cases))
    for row in rows:
        cells = " | ".join(f"{statistics.median(row.first[case]):.2f}" for case in cases)
        print(f"| {row.size} | {cells} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
