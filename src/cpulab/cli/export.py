"""`cpulab export`: the stored results as JSON, CSV, Markdown or HTML, written as read."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from cpulab.cli.parser import EXIT_OK, check_task_filter, machine_filter
from cpulab.cli.render import warn_unreadable
from cpulab.engine.errors import UsageError
from cpulab.engine.export import EXPORTERS, write_export
from cpulab.engine.store import ResultStore


def cmd_export(args: argparse.Namespace) -> int:
    with ResultStore.open(args.db, readonly=True) as store, store.snapshot():
        if args.out is not None:
            _refuse_the_store_itself(args.out, store.path)
        check_task_filter(store, args.task)
        chunks = EXPORTERS[args.format](store, task=args.task, machine=machine_filter(args.machine))
        write_export(chunks, args.out)
        warn_unreadable(store)
    return EXIT_OK


def _refuse_the_store_itself(out: Path, store: Path) -> None:
    """An export written over the store it reads, or over one of SQLite's files beside it,
    would lose every result: by its name, through a link, or as a hard link to it."""
    target = os.path.realpath(out)
    for kept in (store, *(Path(f"{store}{suffix}") for suffix in ("-wal", "-shm", "-journal"))):
        try:
            same = target == os.path.realpath(kept) or os.path.samefile(out, kept)
        except OSError:  # one of them is not there
            same = False
        if same:
            raise UsageError(f"cannot write {out}: it is the results store being exported")
