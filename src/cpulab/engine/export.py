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

Times are seconds, memory bytes, timestamps seconds since the epoch.

Every format is written as it is read, a sweep or a batch of single runs at a time, so an
export takes the same memory for a store of ten results or of a million; a file named
with --out appears whole, or not at all.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import itertools
import math
import os
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from json.encoder import encode_basestring_ascii
from pathlib import Path
from typing import Any

from cpulab.engine.errors import UsageError
from cpulab.engine.models import ScalingModel, fit_scaling, model_points
from cpulab.engine.presentation import (
    SCALING_HEADER,
    best_summary,
    fit_summary,
    model_lines,
    point_notes,
    scaling_rows,
    task_label,
    variant_label,
)
from cpulab.engine.report_html import html_chunks
from cpulab.engine.stats import PointStats, ScalingPoint, ScalingReport, analyse_results
from cpulab.engine.store import ResultStore, StoredPoint, SweepRecord

FORMATS = ("json", "csv", "markdown", "html")
CSV_COLUMNS = (
    "point_id", "sweep_id", "created_at", "machine", "task", "scale", "strategy", "train",
    "eval", "cores", "n", "median_s", "min_s", "max_s", "mad_s", "speedup", "efficiency",
    "karp_flatt", "score", "metric", "cpu_time_s", "peak_rss_bytes", "workers_s", "flags",
    "variant", "software",
)  # fmt: skip
CHUNK_LINES = 500  # lines of CSV or Markdown gathered into one write
# An export fits every sweep's model: a quarter of `cpulab sweep`'s bootstrap refits (the
# first 50 of its 200, from the same seed) costs about 5 ms a sweep instead of 20 to 35.
EXPORT_RESAMPLES = 50


@dataclass(frozen=True)
class SweepView:
    """A stored sweep with its points and their analysis."""

    record: SweepRecord
    points: list[StoredPoint]
    report: ScalingReport

    def scaling_point(self, stored: StoredPoint) -> ScalingPoint | None:
        r = stored.result
        return next((p for p in self.report.points if (p.train, p.eval) == (r.train, r.eval)), None)

    @property
    def machine_cores(self) -> int:
        """The cores its machine made available, as its first point recorded them."""
        return self.points[0].result.available

    @cached_property
    def model(self) -> ScalingModel | None:
        """Its scaling model, as `cpulab sweep` fits it, with EXPORT_RESAMPLES refits;
        fitted once, by whichever exporter asks first."""
        return fit_scaling(model_points(self.report), resamples=EXPORT_RESAMPLES)

    @property
    def model_summary(self) -> dict[str, Any] | None:
        """The model as the sweep stored it when it ended (ScalingModel.to_dict); fitted
        here only for a sweep stored before models were (schema 3 and older)."""
        if self.record.model is not None:
            return self.record.model
        return self.model.to_dict(self.machine_cores) if self.model else None


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
    store: ResultStore, task: str | None, machine: int | str | None
) -> Iterator[SweepView]:
    """Each sweep with a readable point, one at a time: a sweep's points are as many as its
    plan has splits, whatever the store holds."""
    for record in store.iter_sweeps(task=task, machine=machine):
        points = store.points(sweep_id=record.id)
        if points:
            yield SweepView(record, points, analyse_results(p.result for p in points))


def single_runs(
    store: ResultStore, task: str | None, machine: int | str | None
) -> Iterator[StoredPoint]:
    """The points outside any sweep, a batch of rows at a time."""
    return store.iter_points(task=task, machine=machine, single_runs=True)


# JSON


def _point_dict(stored: StoredPoint) -> dict:
    result = stored.result
    stats = PointStats.of(result.fit_times)
    return {
        "id": stored.id,
        "created_at": stored.created_at,
        "machine_id": stored.machine_id,
        "software_id": stored.software_id,
        "result": result.record(),
        "stats": stats.to_dict(),
        "warnings": stats.warnings(result.flags),
    }


def _sweep_dict(view: SweepView) -> dict:
    record = view.record
    return {
        "id": record.id,
        "task": record.task,
        "scale": record.scale,
        "strategy": record.strategy,
        "cores": list(record.cores),
        "repeats": record.repeats,
        "warmup": record.warmup,
        "status": record.status,
        "error": record.error,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "machine_id": record.machine_id,
        "points": [_point_dict(p) for p in view.points],
        "analysis": view.report.to_dict(),
        "model": view.model_summary,
    }


def json_chunks(
    store: ResultStore,
    task: str | None = None,
    machine: int | str | None = None,
    clock: Callable[[], float] = time.time,
) -> Iterator[str]:
    """The document, a sweep or a single run at a time; the same text, byte for byte, as
    `json.dumps(document, indent=2)` of it all, with every NaN and infinity as null."""
    machines = [{"id": m.id, "label": m.label, "facts": m.facts} for m in store.machines()]
    software = [{"id": s.id, "label": s.label, "facts": s.facts} for s in store.software()]
    yield '{\n  "format": "cpulab-export",\n  "version": 2,\n'
    yield f'  "exported_at": {indented(clock())},\n'
    yield from _json_member("machines", machines)
    yield from _json_member("software", software)
    yield from _json_member("sweeps", map(_sweep_dict, sweep_views(store, task, machine)))
    yield from _json_member("runs", map(_point_dict, single_runs(store, task, machine)), last=True)
    yield "}\n"


def _json_member(name: str, items: Iterable[Any], last: bool = False) -> Iterator[str]:
    """A list member of the document, item by item, as indent=2 lays it out."""
    opening = separator = "\n    "
    yield f"  {encode_basestring_ascii(name)}: ["
    for item in items:
        yield separator + indented(item, level=2)
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


def _number(value: float | None, digits: int = 6) -> str:
    return "" if value is None or not math.isfinite(value) else f"{value:.{digits}g}"


def _csv_row(
    stored: StoredPoint, labels: Labels, strategy: str, point: ScalingPoint | None
) -> dict[str, object]:
    r = stored.result
    stats = point.stats if point else PointStats.of(r.fit_times)
    return {
        "point_id": stored.id,
        "sweep_id": "" if stored.sweep_id is None else stored.sweep_id,
        "created_at": f"{stored.created_at:.3f}",
        "machine": labels.machines.get(stored.machine_id, ""),
        "task": r.task,
        "scale": r.scale,
        "strategy": strategy,
        "train": r.train,
        "eval": r.eval,
        "cores": r.cores_used,
        "n": stats.n,
        "median_s": _number(stats.median),
        "min_s": _number(stats.min),
        "max_s": _number(stats.max),
        "mad_s": _number(stats.mad),
        "speedup": _number(point.speedup if point else None, 4),
        "efficiency": _number(point.efficiency if point else None, 4),
        "karp_flatt": _number(point.karp_flatt if point else None, 4),
        "score": _number(r.score),
        "metric": r.metric,
        "cpu_time_s": _number(r.cpu_time),
        "peak_rss_bytes": r.peak_rss,
        "workers_s": _number(r.setup.get("workers")),
        "flags": " ".join(r.flags),
        "variant": r.variant,
        "software": labels.software.get(stored.software_id, ""),
    }


def csv_chunks(
    store: ResultStore, task: str | None = None, machine: int | str | None = None
) -> Iterator[str]:
    """A header, then a row per point: each sweep's, then the single runs."""
    labels = Labels.of(store)

    def rows() -> Iterator[dict[str, object]]:
        for view in sweep_views(store, task, machine):
            for stored in view.points:
                point = view.scaling_point(stored)
                yield _csv_row(stored, labels, view.record.strategy, point)
        for stored in single_runs(store, task, machine):
            yield _csv_row(stored, labels, "", None)

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for n, row in enumerate(rows(), 1):
        # In column order: csv.DictWriter would check every key of every row.
        writer.writerow([row[column] for column in CSV_COLUMNS])
        if n % CHUNK_LINES == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


# Markdown


def _markdown_row(cells: Iterable[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _markdown_table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> Iterator[str]:
    header = list(header)
    yield _markdown_row(header)
    yield "|" + " --- |" * len(header)
    yield from map(_markdown_row, rows)


def _run_cells(stored: StoredPoint) -> list[str]:
    r, s = stored.result, PointStats.of(stored.result.fit_times)
    score = "-" if r.score is None else f"{r.score:.4g} {r.metric}"
    return [str(stored.id), task_label(r), r.scale, f"{r.train} x {r.eval}",
            f"{s.median:.3f} ± {s.mad:.3f} (n={s.n})", score, " ".join(r.flags)]  # fmt: skip


def markdown_lines(
    store: ResultStore, task: str | None = None, machine: int | str | None = None
) -> Iterator[str]:
    """The report's lines: a section per sweep, then a table of the single runs."""
    labels = {m.id: m.label for m in store.machines()}
    yield "# cpulab results"
    yield ""
    for view in sweep_views(store, task, machine):
        record = view.record
        named = variant_label(record.task, view.points[0].result.variant)  # shared by its points
        yield f"## Sweep {record.id}: {named} ({record.scale}), strategy {record.strategy}"
        yield ""
        yield (
            f"{labels.get(record.machine_id, '')}; {record.repeats} repeats, "
            f"{record.warmup} warm-up; {record.status}"
            + (f": {record.error}." if record.error else ".")
        )
        yield ""
        yield from _markdown_table(SCALING_HEADER, scaling_rows(view.report))
        yield ""
        yield f"{fit_summary(view.report)}; {best_summary(view.report)}."
        for note in point_notes(view.report) + view.report.warnings():
            yield f"- {note}"
        yield from model_markdown(view)
        yield ""
    runs = single_runs(store, task, machine)
    first = next(runs, None)
    if first is not None:  # the section only where there is a run to list
        yield "## Single runs"
        yield ""
        header = ("id", "task", "scale", "train x eval", "median s ± MAD", "score", "flags")
        yield from _markdown_table(header, map(_run_cells, itertools.chain([first], runs)))
        yield ""


def model_markdown(view: SweepView) -> Iterator[str]:
    """The sweep's model lines (presentation.model_lines) as a list of their own."""
    lines = model_lines(view.model_summary, view.machine_cores)
    if lines:
        yield ""
        yield from (f"- {line}" for line in lines)


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
        _write_into(fd, chunks, out)
        # mkstemp's file is private; the export gets the modes a new file, or the file it
        # replaces, would have.
        os.chmod(temp, stat.S_IMODE(mode) if mode is not None else 0o666 & ~_umask())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


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
