"""`cpulab delete` and `cpulab restore`: stored results marked deleted, and back.

The store keeps a deleted result's row, marked: every command leaves it out, and
`history --deleted` lists them. Nothing changes unless every id given can change.
"""

from __future__ import annotations

import argparse
import sqlite3

from cpulab.cli.parser import EXIT_OK
from cpulab.engine.errors import UsageError
from cpulab.engine.store import ResultStore


def cmd_delete(args: argparse.Namespace) -> int:
    return _mark(args, deleting=True)


def cmd_restore(args: argparse.Namespace) -> int:
    return _mark(args, deleting=False)


def _mark(args: argparse.Namespace, *, deleting: bool) -> int:
    ids = sorted(set(args.ids))
    with ResultStore.open(args.db) as store:
        state = store.deleted_ids(ids)
        if missing := [i for i in ids if i not in state]:
            raise UsageError(f"no stored result {_listed(missing)} in {store.path}")
        if deleting and (gone := [i for i in ids if state[i]]):
            raise UsageError(f"result {_listed(gone)} is deleted already")
        if not deleting and (live := [i for i in ids if not state[i]]):
            raise UsageError(f"result {_listed(live)} is not deleted")
        try:
            (store.delete_points if deleting else store.restore_points)(ids)
        except sqlite3.OperationalError as exc:  # another process held it past the wait
            raise UsageError(f"{store.path}: {exc}: nothing changed, try again") from None
        if deleting:
            it = "it" if len(ids) == 1 else "them"
            print(f"Deleted result {_listed(ids)}: `cpulab restore {' '.join(map(str, ids))}`"
                  f" brings {it} back.")  # fmt: skip
        else:
            print(f"Restored result {_listed(ids)}.")
    return EXIT_OK


def _listed(ids: list[int]) -> str:
    return ", ".join(f"#{i}" for i in ids)
