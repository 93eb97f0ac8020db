"""`cpulab history`: the stored results, their sweeps, machines and software."""

from __future__ import annotations

import argparse
from datetime import datetime

from cpulab.cli.parser import EXIT_OK, machine_filter
from cpulab.cli.render import warn_unreadable
from cpulab.engine.export import Labels
from cpulab.engine.presentation import task_label
from cpulab.engine.store import ResultStore


def cmd_history(args: argparse.Namespace) -> int:
    from rich.box import SIMPLE_HEAD
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    machine = machine_filter(args.machine)
    with ResultStore.open(args.db, readonly=True) as store:
        labels = Labels.of(store)
        sweeps = {s.id: s for s in store.sweeps()}
        points = store.points(task=args.task, machine=machine)
        warn_unreadable(store)
    console = Console()
    if not points:
        console.print("No stored results match." if args.task or args.machine else
                      "No results stored yet: try `cpulab run rf-train`.")  # fmt: skip
        return EXIT_OK
    table = Table(
        title=f"{len(points)} stored results",
        title_justify="left",
        box=SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for name in ("id", "when", "task", "split", "median s", "score", "sweep", "host", "sw"):
        table.add_column(name, justify="right" if name in ("id", "median s") else "left")
    table.add_column("flags", min_width=5, overflow="fold")
    for stored in points:
        r = stored.result
        table.add_row(
            str(stored.id),
            datetime.fromtimestamp(stored.created_at).strftime("%m-%d %H:%M"),
            Text(f"{task_label(r)} ({r.scale})"),  # not markup: a variant is in brackets
            f"{r.train} x {r.eval}",
            f"{r.fit_time:.3f}",
            "-" if r.score is None else f"{r.score:.4g}",
            "-" if stored.sweep_id is None else f"#{stored.sweep_id}",
            f"#{stored.machine_id}",
            "-" if stored.software_id is None else f"#{stored.software_id}",
            " ".join(r.flags),
        )
    console.print(table)
    for sweep_id in sorted({p.sweep_id for p in points if p.sweep_id is not None}):
        sweep = sweeps[sweep_id]
        cores = ",".join(map(str, sweep.cores))
        console.print(
            f"sweep #{sweep.id}: {sweep.task} over {cores} cores, strategy {sweep.strategy}, "
            f"{sweep.repeats} repeats, {sweep.status}" + (f": {sweep.error}" if sweep.error else "")
        )
    for machine_id in sorted({p.machine_id for p in points}):
        console.print(f"host #{machine_id}: {labels.machines.get(machine_id, '?')}")
        # The same machine with other software: an upgrade, not another machine.
        installs = sorted({p.software_id for p in points if p.machine_id == machine_id}, key=str)
        for software_id in installs:
            if software_id is not None:
                console.print(f"  software #{software_id}: {labels.software[software_id]}")
    return EXIT_OK
