"""The results history as JSON, CSV, Markdown or an HTML page (engine/report_html.py).

JSON shape (`format: "cpulab-export"`, `version: 2`):

    machines: [{id, label, facts}]          the hardware
    software: [{id, label, facts}]          Python, the OS, library versions
    sweeps:   [{id, task, scale, strategy, cores, repeats, warmup, status, error,
                started_at, finished_at, machine_id, points: [POINT], analysis: ANALYSIS,
                model: MODEL | null}]
    runs:     [POINT]                       single runs, outside any sweep

    POINT    = {id, created_at, machine_id, software_id, result: <the run's full record, as
                `cpulab run --json` prints it, its timeline (engine/timeline.py) and
                machine conditions (engine/doctor.py) included where recorded>,
                stats: {n, times, median, min, max, mad, outliers, first_run_slow},
                warnings: [sentence]}
    ANALYSIS = {points: [{train, eval, cores, stats, speedup, efficiency, karp_flatt, flags,
                warnings}], baseline, fit: {a, b, serial_fraction, speedup_ceiling,
                r_squared, rms_residual, n, distinct_cores, warnings} | null,
                best_per_cores: [...], best, warnings}
    MODEL    = the sweep's scaling model (engine/models.py `ScalingModel.to_dict`, with
                predictions up to twice its machine's cores): Amdahl's law and the USL fitted
                to the fastest split of each core count, the chosen one, intervals from
                EXPORT_RESAMPLES bootstrap refits; null with fewer than two core counts

Times are seconds, memory bytes, timestamps seconds since the epoch. The document is laid
out as `json.dumps(indent=2)` would down to each sweep's own fields and each single run;
each POINT, ANALYSIS and MODEL is one line, as the store keeps it.

Every format is written as it is read, a sweep or a batch of single runs at a time, so an
export takes the same memory for a store of ten results or of a million; a file named
with --out appears whole, or not at all. What it says is read as the store keeps it where
it can: each point's result and summary spliced as they are (JSON), the values CSV and
Markdown print read by SQLite from them, each sweep's analysis and model stored as it
ended. Only rows the store has not kept that for (written before schema 5, or a sweep
whose points were deleted or restored since) are decoded and analysed here, to the same
text; so 100,000 points export in seconds, not minutes.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import json
import math
import os
import signal
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from json.encoder import encode_basestring_ascii
from pathlib import Path
from typing import Any

from cpulab.engine.errors import INTERRUPTING_SIGNALS, Interrupted, UsageError
from cpulab.engine.events import compact_json
from cpulab.engine.models import ScalingModel, fit_scaling, model_points
from cpulab.engine.presentation import (
    counted,
    csv_cell,
    csv_number,
    markdown_table,
    printable,
    sweep_markdown,
    variant_label,
)
from cpulab.engine.report_html import html_chunks
from cpulab.engine.stats import ScalingReport, against_baseline, analyse_results
from cpulab.engine.store import (
    ALL_TEXTS,
    CsvCells,
    PointFacts,
    PointRow,
    ResultStore,
    RowRead,
    StoredPoint,
    SweepRecord,
    SweepTexts,
    point_summary,
    sweep_analysis,
)

FORMATS = ("json", "csv", "markdown", "html")
CSV_COLUMNS = (
    "point_id", "sweep_id", "created_at", "machine", "task", "scale", "strategy", "train",
    "eval", "cores", "n", "median_s", "min_s", "max_s", "mad_s", "speedup", "efficiency",
    "karp_flatt", "score", "metric", "cpu_time_s", "peak_rss_bytes", "workers_s", "flags",
    "variant", "software",
)  # fmt: skip
CHUNK_LINES = 500  # lines of CSV or Markdown gathered into one write
# An export fits the model of a sweep stored without one (schema 3 and older): a quarter
# of `cpulab sweep`'s bootstrap refits (the first 50 of its 200, from the same seed) costs
# about 5 ms a sweep instead of 20 to 35.
EXPORT_RESAMPLES = 50


@dataclass
class SweepView:
    """A stored sweep and its points' rows. What an export says of it is read as the
    store keeps it where it can (its analysis and model, each point's summary and facts)
    and computed from its decoded points where it cannot: a sweep stored before schema 5,
    or one whose points an older cpulab deleted or restored after it ended (cpulab now
    keeps them anew as it deletes or restores)."""

    record: SweepRecord
    rows: list[PointRow]  # of its points, or of its first only (`complete` False)
    store: ResultStore
    complete: bool = True

    @cached_property
    def kept(self) -> bool:
        """Whether the store keeps all this view reads, each in today's shape."""
        return self.record.analysed and all(row.current for row in self.rows)

    @cached_property
    def points(self) -> list[StoredPoint]:
        """Its readable points, decoded: only where what is kept does not do."""
        if not self.complete:
            return self.store.points(sweep_id=self.record.id)
        return [point for point in map(self.store.decode, self.rows) if point is not None]

    @property
    def readable(self) -> bool:
        return self.kept or bool(self.points)

    @cached_property
    def analysis_text(self) -> str:
        """Its analysis, as JSON: stats.ScalingReport.to_dict."""
        if self.kept:
            if self.record.analysis_text is None:
                raise ValueError("its sweep was read without its analysis (SweepTexts)")
            return self.record.analysis_text
        return sweep_analysis([p.result for p in self.points]) or "null"

    @cached_property
    def report(self) -> ScalingReport:
        if self.kept:
            return ScalingReport.from_dict(json.loads(self.analysis_text))
        return analyse_results(p.result for p in self.points)

    @cached_property
    def first(self) -> PointFacts | None:
        """Its first readable point's facts: the variant and machine cores all its points
        share. None where it has none: a sweep exports only with a point."""
        if facts := point_facts(self.rows[0], self.store):  # else the first row is unreadable
            return facts
        return PointFacts.of(self.points[0].result) if self.points else None

    @property
    def machine_cores(self) -> int | None:
        """The cores its machine made available, as its first point recorded them."""
        return None if self.first is None else self.first.available

    @property
    def baseline_median(self) -> float | None:
        """The median of its 1 x 1 runs, what its speed-ups are against."""
        if self.kept:
            if not self.record.read.baseline:
                raise ValueError("its sweep was read without its baseline (SweepTexts)")
            return self.record.baseline_median
        return self.report.baseline.median if self.report.baseline else None

    @cached_property
    def model(self) -> ScalingModel | None:
        """Its scaling model, as `cpulab sweep` fits it, with EXPORT_RESAMPLES refits;
        fitted once, by whichever exporter asks first."""
        return fit_scaling(model_points(self.report), resamples=EXPORT_RESAMPLES)

    @property
    def model_summary(self) -> dict[str, Any] | None:
        """The model as the sweep stored it when it ended or its points last changed
        (ScalingModel.to_dict); fitted here for a sweep stored before models were (schema
        3 and older), or whose points an older cpulab deleted or restored (it forgot the
        model then)."""
        if self.record.model is not None:
            return self.record.model
        cores = self.machine_cores
        return self.model.to_dict(cores) if self.model and cores else None

    @property
    def model_text(self) -> str:
        if self.record.model_text is not None:
            return self.record.model_text
        summary = self.model_summary
        return "null" if summary is None else compact_json(summary)


@dataclass(frozen=True)
class Labels:
    """Short labels of the store's machines and software, by id."""

    machines: dict[int, str]
    software: dict[int | None, str]

    @classmethod
    def of(cls, store: ResultStore) -> Labels:
        return cls(
            {m.id: m.label for m in store.machines()}, {s.id: s.label for s in store.software()}
        )


def sweep_views(
    store: ResultStore,
    task: str | None,
    machine: int | str | None,
    read: RowRead = "text",
    first_only: bool = False,
    texts: SweepTexts = ALL_TEXTS,
) -> Iterator[SweepView]:
    """Each sweep with a readable point, a batch of sweeps at a time, with its points'
    rows or its first's only (for a reader of the sweep's analysis and model alone);
    `read`, `texts` as `ResultStore.iter_point_rows` and `iter_sweeps` take them."""
    sweeps = store.iter_sweep_rows(task, machine, read, first_only, texts)
    for record, rows in sweeps:
        view = SweepView(record, rows, store, complete=not first_only)
        if rows and (record.report_text is not None or view.readable):
            yield view


def single_runs(
    store: ResultStore, task: str | None, machine: int | str | None
) -> Iterator[StoredPoint]:
    """The points outside any sweep, decoded, a batch of rows at a time."""
    return store.iter_points(task=task, machine=machine, single_runs=True)


def single_run_rows(
    store: ResultStore, task: str | None, machine: int | str | None, read: RowRead = "text"
) -> Iterator[PointRow]:
    """The rows of the points outside any sweep, a batch at a time."""
    return store.iter_point_rows(task=task, machine=machine, single_runs=True, read=read)


def point_facts(row: PointRow, store: ResultStore) -> PointFacts | None:
    """A row's facts, as the store keeps them; None for an unreadable row, which the store
    names in `unreadable`."""
    if row.current and row.facts is not None and row.facts.whole:
        return row.facts
    point = store.decode(row)
    return None if point is None else PointFacts.of(point.result)


# JSON

EVENT_HEAD = '{"event":"result",'  # how a stored result's JSON begins (Event.to_json)


def _point_json(row: PointRow, store: ResultStore) -> str | None:
    """A POINT, on one line: the result's JSON as stored, with its summary beside it.
    None for an unreadable row."""
    text, summary = row.text, row.summary or ""
    cut = summary.find(',"stats":')
    if not (row.current and text is not None and text.startswith(EVENT_HEAD) and cut > 0):
        point = store.decode(row)
        if point is None:
            return None
        text, summary = point.result.to_json(), point_summary(point.result)
        cut = summary.find(',"stats":')
    # The summary's derived figures go into the result, in place of the event's name, as
    # `cpulab run --json` has them; its statistics and warnings follow it.
    return (
        f'{{"id":{row.id},"created_at":{row.created_at!r},"machine_id":{row.machine_id},'
        f'"software_id":{"null" if row.software_id is None else row.software_id},'
        f'"result":{{{text[len(EVENT_HEAD) : -1]},{summary[1:cut]}}},{summary[cut + 1 :]}'
    )


def _sweep_json(view: SweepView) -> str:
    """A sweep of the document: its own fields a line each, then its points, its analysis
    and its model, each on a line of its own."""
    record = view.record
    # Its own fields as `indented` lays them out, written out: a fifth of the time of an
    # export of many small sweeps went to laying them out one value at a time.
    listed = "".join(f"\n        {n}," for n in record.cores).removesuffix(",")
    cores = f"[{listed}\n      ]" if listed else "[]"
    points = ",\n        ".join(filter(None, (_point_json(row, view.store) for row in view.rows)))
    return (
        f'{{\n      "id": {record.id},'
        f'\n      "task": {encode_basestring_ascii(record.task)},'
        f'\n      "scale": {encode_basestring_ascii(record.scale)},'
        f'\n      "strategy": {encode_basestring_ascii(record.strategy)},'
        f'\n      "cores": {cores},'
        f'\n      "repeats": {record.repeats},'
        f'\n      "warmup": {record.warmup},'
        f'\n      "status": {encode_basestring_ascii(record.status)},'
        f'\n      "error": {indented(record.error)},'
        f'\n      "started_at": {indented(record.started_at)},'
        f'\n      "finished_at": {indented(record.finished_at)},'
        f'\n      "machine_id": {record.machine_id},'
        f'\n      "points": [\n        {points}\n      ],'
        f'\n      "analysis": {view.analysis_text},'
        f'\n      "model": {view.model_text}\n    }}'
    )


def json_chunks(
    store: ResultStore,
    task: str | None = None,
    machine: int | str | None = None,
    clock: Callable[[], float] = time.time,
) -> Iterator[str]:
    """The document, a sweep or a single run at a time. Down to each sweep and run it is
    laid out as `json.dumps(document, indent=2)` would; each point, analysis and model is
    one line of JSON, as the store keeps it. Every NaN and infinity is null."""
    machines = [{"id": m.id, "label": m.label, "facts": m.facts} for m in store.machines()]
    software = [{"id": s.id, "label": s.label, "facts": s.facts} for s in store.software()]
    yield '{\n  "format": "cpulab-export",\n  "version": 2,\n'
    yield f'  "exported_at": {indented(clock())},\n'
    yield from _json_member("machines", (indented(m, level=2) for m in machines))
    yield from _json_member("software", (indented(s, level=2) for s in software))
    yield from _json_member("sweeps", map(_sweep_json, sweep_views(store, task, machine)))
    runs = (_point_json(row, store) for row in single_run_rows(store, task, machine))
    yield from _json_member("runs", filter(None, runs), last=True)
    yield "}\n"


def _json_member(name: str, texts: Iterable[str], last: bool = False) -> Iterator[str]:
    """A list member of the document, its items' JSON as given, an item at a time."""
    opening = separator = "\n    "
    yield f"  {encode_basestring_ascii(name)}: ["
    for text in texts:
        yield separator + text
        separator = ",\n    "
    yield ("]" if separator is opening else "\n  ]") + ("\n" if last else ",\n")


def indented(value: Any, level: int = 0) -> str:
    """`json.dumps(value, indent=2)`, as its text reads `level` indents deep, with NaN and
    infinities as null. The standard library's indenting encoder is pure Python, made of
    nested generators: it took half as long again as this over a store's worth of points."""
    parts: list[str] = []
    _encode(value, "\n" + "  " * level, parts)
    return "".join(parts)


def _encode(value: Any, newline: str, parts: list[str]) -> None:
    if isinstance(value, str):
        parts.append(encode_basestring_ascii(value))
    elif value is None:
        parts.append("null")
    elif value is True:
        parts.append("true")
    elif value is False:
        parts.append("false")
    elif isinstance(value, float):
        parts.append(float.__repr__(value) if math.isfinite(value) else "null")
    elif isinstance(value, int):
        parts.append(int.__repr__(value))
    elif isinstance(value, dict):
        if not value:
            parts.append("{}")
            return
        inner = newline + "  "
        separator = "{" + inner
        for key, item in value.items():
            if not isinstance(key, str):  # every key has been through JSON, in the store
                raise TypeError(f"keys must be str, not {type(key).__name__}")
            parts.append(separator)
            parts.append(encode_basestring_ascii(key) + ": ")
            _encode(item, inner, parts)
            separator = "," + inner
        parts.append(newline + "}")
    elif isinstance(value, list | tuple):
        if not value:
            parts.append("[]")
            return
        inner = newline + "  "
        separator = "[" + inner
        for item in value:
            parts.append(separator)
            _encode(item, inner, parts)
            separator = "," + inner
        parts.append(newline + "]")
    else:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# CSV


def csv_cells(row: PointRow, store: ResultStore) -> CsvCells | None:
    """A row's cells, as kept or made from its facts; None for an unreadable row."""
    if row.current and row.cells is not None:
        return row.cells
    facts = point_facts(row, store)
    return None if facts is None else facts.csv_cells()


def _csv_line(
    row: PointRow, cells: CsvCells, labels: tuple[str, str, str], baseline: float | None
) -> str:
    """A point's line, in CSV_COLUMNS's order; `labels`: its machine's label, its
    software's and its sweep's strategy as cells; `baseline`: the median of its sweep's
    1 x 1 runs, if it has them."""
    machine, software, strategy = labels
    c = cells
    return (
        f"{row.id},{'' if row.sweep_id is None else row.sweep_id},{row.created_at:.3f},"
        f"{machine},{c.task},{c.scale},{strategy},{c.before},"
        f"{_scaling_cells(baseline, c.median, c.cores)},{c.after},{software}\n"
    )


def _scaling_cells(baseline: float | None, median: float, cores: int) -> str:
    """The speed-up, efficiency and Karp-Flatt cells of a point's line: empty without a
    baseline (every single run), in one format where all three are numbers."""
    if baseline is None:
        return ",,"
    speedup, efficiency, karp_flatt = against_baseline(baseline, median, cores)
    if (
        speedup is not None
        and efficiency is not None
        and karp_flatt is not None
        and math.isfinite(speedup + efficiency + karp_flatt)
    ):
        return f"{speedup:.4g},{efficiency:.4g},{karp_flatt:.4g}"
    return ",".join(csv_number(value, ".4g") for value in (speedup, efficiency, karp_flatt))


# The CSV reads each sweep's baseline alone, which SQLite finds in its analysis.
CSV_TEXTS = SweepTexts(model=None, analysis=None, baseline=True)


def csv_chunks(
    store: ResultStore, task: str | None = None, machine: int | str | None = None
) -> Iterator[str]:
    """A header, then a line per point: each sweep's, then the single runs. Written as
    csv.writer writes them, a cell at a time (csv.writer's own work on each row was 0.37 s
    of an export of 100,000 points), from the cells kept with each point."""
    labels = Labels.of(store)
    # A copy in memory of an older store has no cells: its facts, rather than its texts.
    read: RowRead = "facts" if store.in_memory else "cells"

    def lines() -> Iterator[str]:
        yield ",".join(map(csv_cell, CSV_COLUMNS)) + "\n"
        for view in sweep_views(store, task, machine, read, texts=CSV_TEXTS):
            baseline, strategy = view.baseline_median, csv_cell(view.record.strategy)
            for row in view.rows:
                if cells := csv_cells(row, store):
                    yield _csv_line(row, cells, labelled(row, strategy), baseline)
        for row in single_run_rows(store, task, machine, read):
            if cells := csv_cells(row, store):
                yield _csv_line(row, cells, labelled(row, ""), None)

    machines = {key: csv_cell(label) for key, label in labels.machines.items()}
    software = {key: csv_cell(label) for key, label in labels.software.items()}

    def labelled(row: PointRow, strategy: str) -> tuple[str, str, str]:
        return machines.get(row.machine_id, ""), software.get(row.software_id, ""), strategy

    chosen = lines()
    while chunk := "".join(itertools.islice(chosen, CHUNK_LINES)):
        yield chunk


# Markdown

# Markdown reads each sweep's section as kept; where it is not, its model and analysis
# less what the report does not print: the points a model was fitted to, its Karp-Flatt
# figures; an analysis's best points (found again from its points: ScalingReport.from_dict)
# and warnings (made again).
REPORT_TEXTS = SweepTexts(
    model=("$.points", "$.karp_flatt"),
    analysis=("$.best_per_cores", "$.best", "$.warnings"),
    report=True,
)


def _run_cells(row: PointRow, facts: PointFacts) -> list[str]:
    score = "-" if facts.score is None else f"{facts.score:.4g} {facts.metric}"
    return [str(row.id), variant_label(facts.task, facts.variant), facts.scale,
            f"{facts.train} x {facts.eval}", f"{facts.median:.3f} ± {facts.mad:.3f} (n={facts.n})",
            score, facts.flags]  # fmt: skip


def markdown_lines(
    store: ResultStore, task: str | None = None, machine: int | str | None = None
) -> Iterator[str]:
    """The report's lines: a section per sweep, then a table of the single runs."""
    labels = {m.id: m.label for m in store.machines()}
    yield "# cpulab results"
    yield ""
    views = sweep_views(store, task, machine, "facts", first_only=True, texts=REPORT_TEXTS)
    for view in views:
        record = view.record
        if view.first is None:
            continue  # kept, but no point of it can be read: a damaged store's
        named = variant_label(record.task, view.first.variant)  # shared by its points
        heading = f"Sweep {record.id}: {named} ({record.scale}), strategy {record.strategy}"
        yield f"## {printable(heading)}"
        yield ""
        yield (
            f"{labels.get(record.machine_id, '')}; {counted(record.repeats, 'repeat')}, "
            f"{record.warmup} warm-up; {record.status}"
            + (f": {record.error}." if record.error else ".")
        )
        yield ""
        if record.report_text is not None:  # kept as it ended: presentation.REPORT_VERSION
            yield record.report_text
        else:
            yield from sweep_markdown(view.report, view.model_summary, view.first.available)
        yield ""
    runs = (
        _run_cells(row, facts)
        for row in single_run_rows(store, task, machine, "facts")
        if (facts := point_facts(row, store))
    )
    first = next(runs, None)
    if first is not None:  # the section only where there is a run to list
        yield "## Single runs"
        yield ""
        header = ("id", "task", "scale", "train x eval", "median s ± MAD", "score", "flags")
        yield from markdown_table(header, itertools.chain([first], runs))
        yield ""


def markdown_chunks(
    store: ResultStore, task: str | None = None, machine: int | str | None = None
) -> Iterator[str]:
    """The report's lines joined with newlines (the last line is empty: the text ends with
    one), a chunk of lines at a time."""
    lines = markdown_lines(store, task, machine)
    separator = ""
    while chunk := list(itertools.islice(lines, CHUNK_LINES)):
        yield separator + "\n".join(chunk)
        separator = "\n"


EXPORTERS: dict[str, Callable[..., Iterator[str]]] = {
    "json": json_chunks,
    "csv": csv_chunks,
    "markdown": markdown_chunks,
    "html": html_chunks,
}


def export_text(
    fmt: str, store: ResultStore, task: str | None = None, machine: int | str | None = None
) -> str:
    """A whole export as one string: for a small store, or a test."""
    return "".join(EXPORTERS[fmt](store, task=task, machine=machine))


def write_export(chunks: Iterable[str], out: Path | None) -> None:
    """Write the chunks as they come: to standard output, or to `out`. A file there is
    written whole or not at all: into a temporary file beside it that takes its place at
    the end, so a failure midway (a damaged store, a full disk, Ctrl-C) leaves whatever was
    there before. A pipe or a device named as `out` (/dev/stdout, a shell's >(...)) is
    written straight. An unwritable path is the user's to fix, not a crash."""
    if out is None:
        sys.stdout.writelines(chunks)
        return
    target = Path(os.path.realpath(out))  # through a link: it goes on naming the new file
    try:
        mode: int | None = target.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror}") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise UsageError(f"cannot write {out}: {os.strerror(errno.EISDIR)}")
    if mode is not None and not stat.S_ISREG(mode):
        _write_into(target, chunks, out)
        return
    try:
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror}") from None
    try:
        with _signals_raise():
            _write_into(fd, chunks, out)
            # mkstemp's file is private; the export gets the modes a new file, or the file
            # it replaces, would have.
            os.chmod(temp, stat.S_IMODE(mode) if mode is not None else 0o666 & ~_umask())
            os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    """SIGTERM and SIGHUP raise Interrupted meanwhile, in the main thread (the CLI's), so
    the temporary file goes as it would on Ctrl-C rather than stay behind."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise Interrupted(signum)

    previous = {signum: signal.signal(signum, interrupt) for signum in INTERRUPTING_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _write_into(file: Path | int, chunks: Iterable[str], out: Path) -> None:
    try:
        with open(file, "w", encoding="utf-8") as opened:
            # A full disk may say so only as the last bytes go, when the file closes.
            opened.writelines(chunks)
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror}") from None


def _umask() -> int:
    """The process's umask: setting it is the one way to read it (the CLI has no other
    thread that could make a file meanwhile)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
