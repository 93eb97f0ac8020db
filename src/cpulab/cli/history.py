"""`cpulab history`: the stored results, newest first, a page at a time, with the sweeps,
machines and software of the results shown.

Only the rows shown are read: the counts come from the store's indexes, and a page of the
newest 50 takes the same time in a store of a hundred results or of a million. The table
is plain fixed-width text written as the rows are read, so `--all` streams too.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import textwrap
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from itertools import islice
from typing import TextIO

from cpulab.cli.parser import EXIT_OK, check_task_filter, machine_filter
from cpulab.cli.render import warn_unreadable
from cpulab.engine.errors import UsageError
from cpulab.engine.export import Labels
from cpulab.engine.presentation import counted, printable, task_label, variant_label
from cpulab.engine.store import NO_TEXTS, READ_BATCH, ResultStore, StoredPoint

HISTORY_PAGE = 50  # results shown unless --limit or --all asks for more
MAX_ADVICE_SHOWN = 2**62  # --all, for advice records
HEADER = ("id", "when", "task", "split", "median s", "score", "sweep", "host", "sw", "flags")
RIGHT_ALIGNED = frozenset({0, 4})  # id, median s
TASK = HEADER.index("task")
FLAGS = HEADER.index("flags")  # the last column: on a terminal, folded under itself
GAPS = ("  ", " ")  # between columns: one space where two would not fit the terminal
MIN_TASK_WIDTH = 12  # narrower, and a long variant says nothing before its "…"


def cmd_history(args: argparse.Namespace) -> int:
    limit = None if args.all else args.limit or HISTORY_PAGE
    if args.advice:
        return _advice_history(args, limit)
    with ResultStore.open(args.db, readonly=True) as store, store.snapshot():
        machine = machine_filter(args.machine)
        check_task_filter(store, args.task)
        chosen = {"task": args.task, "machine": machine, "deleted": args.deleted}
        total = store.count_points(**chosen)
        in_range = total if args.before is None else store.count_points(
            **chosen, before=args.before
        )  # fmt: skip
        points = store.iter_points(**chosen, before=args.before, newest_first=True, limit=limit)
        first = list(islice(points, READ_BATCH))
        if not first:
            warn_unreadable(store)
            filtered = any(f is not None for f in (args.task, args.machine, args.before))
            if args.deleted:
                print("No deleted results match." if filtered else "No results are deleted.")
            else:
                print("No stored results match." if filtered else
                      "No results stored yet: try `cpulab run rf-train`.")  # fmt: skip
            return EXIT_OK
        # Exact when the page fits in the first block, as the default does; beyond, an
        # unreadable row still to come would make one fewer than said.
        if len(first) < READ_BATCH:
            shown = len(first)
        else:
            shown = (in_range if limit is None else min(limit, in_range)) - len(store.unreadable)
        out = sys.stdout
        more = in_range - shown - len(store.unreadable) > 0
        title = _title(shown, total, args.before, more)
        if args.deleted:
            title = title.replace("stored result", "deleted result") + "; restore ID undoes one"
        out.write(title + "\n\n")
        seen = _Seen()
        table = _Table(out)
        for block in _blocks(first, points):
            table.write([_cells(stored) for stored in seen.note(block)])
        older = in_range - seen.count - len(store.unreadable)
        if older > 0:
            out.write(
                f"\n{older} older: --before {seen.last_id} for the next "
                f"{min(limit or HISTORY_PAGE, older)}; --limit N or --all for more at once\n"
            )
        _footers(store, seen, out)
        warn_unreadable(store)
    return EXIT_OK


def _advice_history(args: argparse.Namespace, limit: int | None) -> int:
    """What `cpulab advise` concluded, newest first: one line each."""
    if args.deleted or args.before is not None or args.machine is not None:
        raise UsageError("--advice lists advice records: --task and --limit choose among them")
    shown = limit or MAX_ADVICE_SHOWN
    with ResultStore.open(args.db, readonly=True) as store:
        check_task_filter(store, args.task)
        records = store.advice(task=args.task, limit=shown + 1)  # one more: are there more?
    if not records:
        print("No advice records match." if args.task is not None else
              "No advice stored yet: try `cpulab advise rf-train --budget 2m`.")  # fmt: skip
        return EXIT_OK
    if len(records) > shown:
        print(f"Newest {counted(shown, 'advice record')} (--limit N or --all shows more)\n")
    else:
        print(f"{counted(len(records), 'advice record')}, newest first\n")
    for stored in records[:shown]:
        record = stored.record
        best = record.get("best", {})
        setting = best.get("setting", {})
        blas = f", BLAS {setting['blas']}" if setting.get("blas") is not None else ""
        speedup = record.get("speedup")
        gain = f", {speedup:.2f}x" if isinstance(speedup, (int, float)) else ""
        sweeps = ", ".join(f"#{n}" for n in record.get("sweeps", []))
        when = datetime.fromtimestamp(stored.created_at).strftime("%m-%d %H:%M")
        print(printable(
            f"advice #{stored.id}  {when}  {variant_label(stored.task, stored.variant)} "
            f"({stored.scale}): {setting.get('train', '?')} x {setting.get('eval', '?')}{blas} "
            f"at {best.get('median', float('nan')):.3f} s{gain}, {stored.status}"
            + (f"; sweeps {sweeps}" if sweeps else "")
        ))  # fmt: skip
    return EXIT_OK


def _title(shown: int, total: int, before: int | None, more: bool) -> str:
    if before is not None:
        return f"{shown} of {_results(total)}: the newest before #{before}"
    if not more:
        return f"{_results(shown)}, newest first"
    return f"Newest {shown} of {_results(total)} (--limit N or --all shows more)"


def _results(count: int) -> str:
    return f"{count} stored result" + ("" if count == 1 else "s")


def _blocks(first: list[StoredPoint], rest: Iterator[StoredPoint]) -> Iterator[list[StoredPoint]]:
    block = first
    while block:
        yield block
        block = list(islice(rest, READ_BATCH))


class _Seen:
    """What the footers tell of: the sweeps, machines and installs of the rows shown."""

    def __init__(self) -> None:
        self.sweeps: dict[int, str] = {}  # sweep id: the variant its points ran as
        self.installs: set[tuple[int, int | None]] = set()  # (machine, software)
        self.count = 0
        self.last_id = 0

    def note(self, block: list[StoredPoint]) -> list[StoredPoint]:
        for stored in block:
            if stored.sweep_id is not None:
                self.sweeps[stored.sweep_id] = stored.result.variant
            self.installs.add((stored.machine_id, stored.software_id))
        self.count += len(block)
        self.last_id = block[-1].id
        return block


def _cells(stored: StoredPoint) -> tuple[str, ...]:
    r = stored.result
    return (
        str(stored.id),
        datetime.fromtimestamp(stored.created_at).strftime("%m-%d %H:%M"),
        printable(f"{task_label(r)} ({r.scale})"),
        f"{r.train} x {r.eval}",
        f"{r.fit_time:.3f}",
        "-" if r.score is None else f"{r.score:.4g}",
        "-" if stored.sweep_id is None else f"#{stored.sweep_id}",
        f"#{stored.machine_id}",
        "-" if stored.software_id is None else f"#{stored.software_id}",
        printable(" ".join(r.flags)),
    )


class _Table:
    """Rows of cells in aligned columns, the header above the first block. Each column is
    as wide as its widest cell so far: a later block can only widen it."""

    def __init__(self, out: TextIO):
        from rich.cells import cell_len  # wide characters take two columns

        self.out, self.cell_len = out, cell_len
        self.widths = [cell_len(name) for name in HEADER]
        self.gap = GAPS[0]
        self.flag_word = self.cell_len(HEADER[FLAGS])  # the flags column's least width
        self.header_written = False
        # Off a terminal, lines are as long as their cells; on one, the task is cut to fit.
        self.columns = shutil.get_terminal_size().columns if out.isatty() else None
        # An ASCII terminal or locale gets ASCII, not the "?" that stands for what it lacks.
        try:
            "─…".encode(out.encoding or "ascii")
            self.rule, self.ellipsis = "─", "…"
        except (UnicodeEncodeError, LookupError):
            self.rule, self.ellipsis = "-", "~"

    def write(self, rows: Sequence[tuple[str, ...]]) -> None:
        for row in rows:
            self.widths = [
                max(w, self.cell_len(cell)) for w, cell in zip(self.widths, row, strict=True)
            ]
        if self.columns is not None:
            words = (word for row in rows for word in row[FLAGS].split())
            self.flag_word = max(self.flag_word, *map(self.cell_len, words))
            self._fit(self.columns)
        lines = []
        if not self.header_written:
            lines.append(self._line(HEADER))
            width = sum(self.widths) + len(self.gap) * (len(HEADER) - 1)
            lines.append(self.rule * min(width, self.columns or width))
            self.header_written = True
        lines.extend(self._line(row) for row in rows)
        self.out.write("\n".join(lines) + "\n")

    def _fit(self, columns: int) -> None:
        """Narrow the table to the terminal: single spaces between columns if need be,
        then the task cut short; the flags take what is left, folded onto more lines."""
        fixed = sum(self.widths) - self.widths[TASK] - self.widths[FLAGS]
        flags = self.flag_word  # a flag is folded onto the next line whole, never split
        if not self.header_written:  # the header fixes the gaps for every block after it
            widest = fixed + self.widths[TASK] + flags + len(GAPS[0]) * (len(HEADER) - 1)
            self.gap = GAPS[0] if widest <= columns else GAPS[1]
        gaps = len(self.gap) * (len(HEADER) - 1)
        room = columns - fixed - flags - gaps
        self.widths[TASK] = max(min(self.widths[TASK], room), MIN_TASK_WIDTH)
        room = columns - fixed - self.widths[TASK] - gaps
        self.widths[FLAGS] = max(min(self.widths[FLAGS], room), flags)

    def _line(self, cells: Iterable[str]) -> str:
        padded = []
        folded: list[str] = []
        for n, (cell, width) in enumerate(zip(cells, self.widths, strict=True)):
            if n == TASK and self.cell_len(cell) > width:
                while cell and self.cell_len(cell) > width - 1:
                    cell = cell[:-1]
                cell += self.ellipsis
            if n == FLAGS and self.cell_len(cell) > width:
                cell, *folded = textwrap.wrap(cell, width, break_long_words=False) or [""]
            room = " " * (width - self.cell_len(cell))
            padded.append(room + cell if n in RIGHT_ALIGNED else cell + room)
        line = self.gap.join(padded).rstrip()
        indent = " " * (sum(self.widths[:FLAGS]) + len(self.gap) * FLAGS)
        return "\n".join([line, *(indent + more for more in folded)])


def _footers(store: ResultStore, shown: _Seen, out: TextIO) -> None:
    """The sweeps, hosts and software installs of the rows shown, and no others."""
    lines = [""]
    for sweep in store.iter_sweeps(ids=shown.sweeps.keys(), texts=NO_TEXTS):
        cores = ",".join(map(str, sweep.cores))
        named = variant_label(sweep.task, shown.sweeps[sweep.id])
        lines.append(printable(
            f"sweep #{sweep.id}: {named} over {cores} cores, strategy {sweep.strategy}, "
            f"{counted(sweep.repeats, 'repeat')}, {sweep.status}"
            + (f": {sweep.error}" if sweep.error else "")
        ))  # fmt: skip
    labels = Labels.of(store)
    for machine_id in sorted({machine for machine, _ in shown.installs}):
        lines.append(printable(f"host #{machine_id}: {labels.machines.get(machine_id, '?')}"))
        # The same machine with other software: an upgrade, not another machine.
        installs = sorted((s for m, s in shown.installs if m == machine_id), key=str)
        for software_id in installs:
            if software_id is not None:
                label = labels.software[software_id]
                lines.append(printable(f"  software #{software_id}: {label}"))
    out.write("\n".join(lines) + "\n")
