"""The results history as JSON, CSV or Markdown.

JSON shape (`format: "cpulab-export"`, `version: 2`):

    machines: [{id, label, facts}]          the hardware
    software: [{id, label, facts}]          Python, the OS, library versions
    sweeps:   [{id, task, scale, strategy, cores, repeats, warmup, status, error,
                started_at, finished_at, machine_id, points: [POINT], analysis: ANALYSIS}]
    runs:     [POINT]                       single runs, outside any sweep

    POINT    = {id, created_at, machine_id, software_id, result: <the run's full record, as
                `cpulab run --json` prints it>, stats: {n, times, median, min, max, mad,
                outliers, first_run_slow}, warnings: [sentence]}
    ANALYSIS = {points: [{train, eval, cores, stats, speedup, efficiency, karp_flatt, flags,
                warnings}], baseline, fit: {a, b, serial_fraction, speedup_ceiling,
                r_squared, rms_residual, n, distinct_cores, warnings} | null,
                best_per_cores: [...], best, warnings}

Times are seconds, memory bytes, timestamps seconds since the epoch.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cpulab.engine.errors import UsageError
from cpulab.engine.events import finite_or_none
from cpulab.engine.presentation import (
    SCALING_HEADER,
    best_summary,
    fit_summary,
    point_notes,
    scaling_rows,
    task_label,
)
from cpulab.engine.stats import PointStats, ScalingPoint, ScalingReport, analyse_results
from cpulab.engine.store import ResultStore, StoredPoint, SweepRecord

FORMATS = ("json", "csv", "markdown")
CSV_COLUMNS = (
    "point_id", "sweep_id", "created_at", "machine", "task", "scale", "strategy", "train",
    "eval", "cores", "n", "median_s", "min_s", "max_s", "mad_s", "speedup", "efficiency",
    "karp_flatt", "score", "metric", "cpu_time_s", "peak_rss_bytes", "workers_s", "flags",
    "variant", "software",
)  # fmt: skip


@dataclass(frozen=True)
class SweepView:
    """A stored sweep with its points and their analysis."""

    record: SweepRecord
    points: list[StoredPoint]
    report: ScalingReport

    def scaling_point(self, stored: StoredPoint) -> ScalingPoint | None:
        r = stored.result
        return next((p for p in self.report.points if (p.train, p.eval) == (r.train, r.eval)), None)


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


def sweep_views(store: ResultStore, task: str | None, machine: int | str | None):
    views = []
    for record in store.sweeps(task=task, machine=machine):
        points = store.points(sweep_id=record.id)
        if points:
            views.append(SweepView(record, points, analyse_results(p.result for p in points)))
    return views


def _point_dict(stored: StoredPoint) -> dict:
    result = stored.result
    stats = PointStats.of(result.fit_times)
    return {
        "id": stored.id,
        "created_at": stored.created_at,
        "machine_id": stored.machine_id,
        "software_id": stored.software_id,
        "result": result.summary(),
        "stats": stats.to_dict(),
        "warnings": stats.warnings(result.flags),
    }


def to_json(store: ResultStore, task=None, machine=None) -> str:
    sweeps = []
    for view in sweep_views(store, task, machine):
        record = view.record
        sweeps.append(
            {
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
            }
        )
    runs = [_point_dict(p) for p in store.points(task=task, machine=machine) if p.sweep_id is None]
    machines = [{"id": m.id, "label": m.label, "facts": m.facts} for m in store.machines()]
    software = [{"id": s.id, "label": s.label, "facts": s.facts} for s in store.software()]
    document = {
        "format": "cpulab-export",
        "version": 2,
        "exported_at": time.time(),
        "machines": machines,
        "software": software,
        "sweeps": sweeps,
        "runs": runs,
    }
    # Strict JSON whatever a stored row holds: a NaN or infinity becomes null.
    return json.dumps(finite_or_none(document), indent=2, allow_nan=False)


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


def to_csv(store: ResultStore, task=None, machine=None) -> str:
    labels = Labels.of(store)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for view in sweep_views(store, task, machine):
        for stored in view.points:
            point = view.scaling_point(stored)
            writer.writerow(_csv_row(stored, labels, view.record.strategy, point))
    for stored in store.points(task=task, machine=machine):
        if stored.sweep_id is None:
            writer.writerow(_csv_row(stored, labels, "", None))
    return out.getvalue()


def _markdown_table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> list[str]:
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def to_markdown(store: ResultStore, task=None, machine=None) -> str:
    labels = {m.id: m.label for m in store.machines()}
    lines = ["# cpulab results", ""]
    for view in sweep_views(store, task, machine):
        record = view.record
        lines += [
            f"## Sweep {record.id}: {record.task} ({record.scale}), strategy {record.strategy}",
            "",
            f"{labels.get(record.machine_id, '')}; {record.repeats} repeats, "
            f"{record.warmup} warm-up; {record.status}"
            + (f": {record.error}." if record.error else "."),
            "",
            *_markdown_table(SCALING_HEADER, scaling_rows(view.report)),
            "",
            f"{fit_summary(view.report)}; {best_summary(view.report)}.",
            *[f"- {note}" for note in point_notes(view.report) + view.report.warnings()],
            "",
        ]
    runs = [p for p in store.points(task=task, machine=machine) if p.sweep_id is None]
    if runs:
        lines += ["## Single runs", ""]
        rows = []
        for stored in runs:
            r, s = stored.result, PointStats.of(stored.result.fit_times)
            score = "-" if r.score is None else f"{r.score:.4g} {r.metric}"
            rows.append(
                [str(stored.id), task_label(r), r.scale, f"{r.train} x {r.eval}",
                 f"{s.median:.3f} ± {s.mad:.3f} (n={s.n})", score, " ".join(r.flags)]
            )  # fmt: skip
        header = ("id", "task", "scale", "train x eval", "median s ± MAD", "score", "flags")
        lines += [*_markdown_table(header, rows), ""]
    return "\n".join(lines)


EXPORTERS = {"json": to_json, "csv": to_csv, "markdown": to_markdown}


def write_export(text: str, out: Path | None) -> None:
    """Write to `out`, or print; an unwritable path is the user's to fix, not a crash."""
    if out is None:
        print(text, end="" if text.endswith("\n") else "\n")
        return
    try:
        out.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from None
