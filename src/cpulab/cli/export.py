"""`cpulab export`: the stored results as JSON, CSV, Markdown or HTML, written as read."""

from __future__ import annotations

import argparse

from cpulab.cli.parser import EXIT_OK, machine_filter
from cpulab.cli.render import warn_unreadable
from cpulab.engine.export import EXPORTERS, write_export
from cpulab.engine.store import ResultStore


def cmd_export(args: argparse.Namespace) -> int:
    with ResultStore.open(args.db, readonly=True) as store, store.snapshot():
        chunks = EXPORTERS[args.format](store, task=args.task, machine=machine_filter(args.machine))
        write_export(chunks, args.out)
        warn_unreadable(store)
    return EXIT_OK
