"""The results history: every measured point and sweep, kept in one SQLite file.

A file is ours only when its header says so (`PRAGMA application_id`). Anything else is
refused with one clear line and left exactly as it was: the checks read the header with
plain file I/O and only then open SQLite read-only, so no journal or WAL file ever appears
beside a refused file. Each point is its own transaction, so a crash loses nothing that
finished, and WAL mode lets the TUI read while the CLI writes.

Two versions are kept apart: the schema's (`user_version`, brought up to date by
`MIGRATIONS` when a file is opened) and each stored result's (`points.result_version`,
upgraded by `RESULT_UPGRADES` in code whenever an older row is read, so a result written
by any earlier release reads as today's `Result`). A row that cannot be read is skipped
and named in `unreadable`, never the end of the history.
"""

from __future__ import annotations

import hashlib
import json
import math
import operator
import os
import random
import sqlite3
import stat
import struct
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, NamedTuple

import platformdirs

from cpulab.engine import liveness
from cpulab.engine.datafile import file_kind
from cpulab.engine.errors import UsageError
from cpulab.engine.events import OPTIONAL, EventError, Result, compact_json, event_from_dict
from cpulab.engine.models import sweep_model
from cpulab.engine.presentation import REPORT_VERSION, csv_cell, csv_number, sweep_markdown
from cpulab.engine.stats import PointStats, ScalingReport, analyse_results

APPLICATION_ID = 0x4350554C  # "CPUL", big-endian at offset 68 of the file
ENV_VAR = "CPULAB_DB"
SQLITE_MAGIC = b"SQLite format 3\x00"
BUSY_TIMEOUT = 10.0  # seconds to wait for another process's write to finish
# Seconds to wait for another process bringing a store up to date: 100,000 points of
# schema 6 took 11 to 13 s on a 2-core machine.
UPGRADE_PATIENCE = 300.0
# running: measuring; done: every point measured; cancelled: stopped by the user;
# failed: the runner failed (the sweep keeps its error); interrupted: stopped by a signal,
# or its process ended without finishing it (OWNER_GONE).
SWEEP_STATUSES = ("running", "done", "cancelled", "failed", "interrupted")
# The error of an interrupted sweep whose process ended without a word: when it ended is
# not known, and its finished_at stays NULL.
OWNER_GONE = "its process ended without recording how (killed, or its machine stopped)"
# What makes two machines the same: the same hardware and the same limits.
MACHINE_KEYS = ("hostname", "cpu_model", "logical_cores", "physical_cores", "cores")
# What makes two software installs the same. The BLAS/OpenMP pools are kept with each
# result but left out: which ones are loaded, and with how many threads, depends on the
# task and the split.
SOFTWARE_KEYS = ("python", "platform", "libraries")
RESULT_VERSION = 2  # of the JSON record in points.result
READ_BATCH = 500  # rows per query where many are read: flat memory, few round trips
# A store up to this size has every page checked as it opens (PRAGMA quick_check, about
# 20 ms here); a larger one only its header and schema, as the check grows with the file
# (130 ms at 100,000 points), and damage deeper in is reported when a read meets it.
FULL_CHECK_BYTES = 32 << 20


def _result_v1_to_v2(record: dict[str, Any]) -> dict[str, Any]:
    """Version 1 kept the software among the machine facts and named a Dask cluster in
    `options.dask`, leaving the backend "loky"."""
    machine = dict(record.get("machine") or {})
    software = {key: machine.pop(key) for key in (*SOFTWARE_KEYS, "threadpools") if key in machine}
    options = dict(record.get("options") or {})
    if "dask" in options:
        options["cluster"] = options.pop("dask")
        if options["cluster"] is not None:
            options["backend"] = "dask"
    return {**record, "machine": machine, "software": software, "options": options}


# Result version -> how a record of that version becomes one of the next.
RESULT_UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
    1: _result_v1_to_v2,
}


def upgrade_result(record: dict[str, Any], version: int) -> dict[str, Any]:
    """A stored result record of any version, as the current version reads."""
    if version > RESULT_VERSION:
        raise EventError(f"written by a newer cpulab (result version {version})")
    for step in range(version, RESULT_VERSION):
        record = RESULT_UPGRADES[step](record)
    return record


def _fingerprint(facts: dict[str, Any], keys: tuple[str, ...]) -> str:
    identity = {key: facts.get(key) for key in keys}
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _split_machines_and_software(conn: sqlite3.Connection) -> None:
    """Schema 2: machines are told apart by their hardware alone, and each point names the
    software it ran with. Machines that differed only by software become one."""
    kept: dict[str, int] = {}
    for row in conn.execute("SELECT id, facts FROM machines ORDER BY id").fetchall():
        facts = json.loads(row["facts"])
        hardware = {k: v for k, v in facts.items() if k not in (*SOFTWARE_KEYS, "threadpools")}
        fingerprint = _fingerprint(hardware, MACHINE_KEYS)
        if fingerprint in kept:
            for table in ("points", "sweeps"):
                conn.execute(
                    f"UPDATE {table} SET machine_id = ? WHERE machine_id = ?",
                    (kept[fingerprint], row["id"]),
                )
            conn.execute("DELETE FROM machines WHERE id = ?", (row["id"],))
            continue
        kept[fingerprint] = row["id"]
        conn.execute(
            "UPDATE machines SET fingerprint = ?, facts = ? WHERE id = ?",
            (fingerprint, json.dumps(hardware, sort_keys=True), row["id"]),
        )
    for row in conn.execute("SELECT id, result FROM points").fetchall():
        try:
            record = upgrade_result(json.loads(row["result"]), 1)
        except (ValueError, TypeError, AttributeError, EventError):
            continue  # an unreadable row stays as it is, and is skipped when read
        software_id = _register_software(conn, record["software"])
        conn.execute("UPDATE points SET software_id = ? WHERE id = ?", (software_id, row["id"]))


class PointFacts(NamedTuple):
    """What the CSV and Markdown rows say of a point's result: read from the points table
    and the facts kept beside it (point_facts), or taken from a decoded Result."""

    task: str
    scale: str
    train: int
    eval: int
    available: int
    score: float | None
    metric: str
    cpu_time: float
    peak_rss: int
    workers: float | None  # seconds starting its workers
    flags: str  # as they print: space-separated
    variant: str
    # Of its measured times (PointStats)
    n: int
    median: float
    min: float
    max: float
    mad: float

    @property
    def whole(self) -> bool:
        """Whether it has every fact a result must (not where a damaged record lacks some:
        then it is decoded, to be named unreadable)."""
        return None not in _REQUIRED_FACTS(self)

    @classmethod
    def of(cls, r: Result) -> PointFacts:
        s = PointStats.of(r.fit_times)
        return cls(
            r.task, r.scale, r.train, r.eval, r.available, r.score, r.metric, r.cpu_time,
            r.peak_rss, r.setup.get("workers"), " ".join(r.flags), r.variant,
            s.n, s.median, s.min, s.max, s.mad,
        )  # fmt: skip

    def csv_cells(self) -> CsvCells:
        """What a CSV export writes of it (export.CSV_COLUMNS): the same in every export,
        so kept beside its facts as the point is written (`KEPT_CELLS`)."""
        cores = self.train * self.eval
        # Times and CPU in one format where all are numbers, as every kept row's are (a
        # point decoded from an older store may hold a NaN): a tenth of the time of a
        # large export, when it was formatted there.
        if math.isfinite(self.median + self.min + self.max + self.mad + self.cpu_time):
            times = f"{self.median:.6g},{self.min:.6g},{self.max:.6g},{self.mad:.6g}"
            cpu = f"{self.cpu_time:.6g}"
        else:
            times = ",".join(map(csv_number, (self.median, self.min, self.max, self.mad)))
            cpu = csv_number(self.cpu_time)
        return CsvCells(
            csv_cell(self.task),
            csv_cell(self.scale),
            cores,
            self.median,
            f"{self.train},{self.eval},{cores},{self.n},{times}",
            f"{csv_number(self.score)},{csv_cell(self.metric)},{cpu},{self.peak_rss},"
            f"{csv_number(self.workers)},{csv_cell(self.flags)},{csv_cell(self.variant)}",
        )


class CsvCells(NamedTuple):
    """A point's cells of a CSV export's line (export.CSV_COLUMNS) that are its own: all
    but its ids, labels and the speed-up against its sweep's 1 x 1 (from `cores` and
    `median`), which the export adds. As kept (`KEPT_CELLS`), or made from its facts."""

    task: str  # as a cell: quoted where the text needs it
    scale: str
    cores: int
    median: float
    before: str  # the cells from its training cores to its times' MAD
    after: str  # the cells from its score to its variant


_REQUIRED_FACTS = operator.itemgetter(
    *(i for i, name in enumerate(PointFacts._fields) if name not in ("score", "workers"))
)

# The facts the points table has no column for, kept in point_facts, each made by SQLite
# from its place in {"result": ..., "summary": ...} of the row's two texts: typed columns
# read back without a JSON text to decode (which took longer than all else in a CSV).
_BOTH = """('{"result":' || result || ',"summary":' || summary || '}')"""
_KEPT_FACTS = {
    name: (
        "$.result.setup.workers" if name == "workers"
        else f"$.summary.stats.{name}" if name in ("n", "median", "min", "max", "mad")
        else f"$.result.{name}"
    )
    for name in PointFacts._fields[4:]
}  # fmt: skip


def _kept_fact(name: str, path: str) -> str:
    if name == "flags":
        # In the array's order: json_each gives its elements in order, and group_concat
        # joins the rows of a plain scan as they come (SQLite before 3.44 has no ORDER BY
        # inside an aggregate).
        return f"COALESCE((SELECT group_concat(value, ' ') FROM json_each({_BOTH}, '{path}')), '')"
    return f"json_extract({_BOTH}, '{path}')"


def _facts_of(where: str) -> str:
    """The INSERT of the facts of the points `where` says, made from their texts as they
    are: only of rows with a summary (today's shape) whose text is JSON; any other is
    decoded by its readers, which say what they cannot read."""
    return (
        f"INSERT INTO point_facts (point_id, {', '.join(_KEPT_FACTS)})"
        f" SELECT id, {', '.join(_kept_fact(n, p) for n, p in _KEPT_FACTS.items())}"
        f" FROM points WHERE ({where}) AND summary IS NOT NULL AND json_valid({_BOTH})"
    )


# SQLite keeps the facts as each row is written or changed, whatever writes it (a cpulab
# that opened the store before it migrated, a hand edit): they are never stale.
_FACT_TRIGGERS = (
    f"""CREATE TRIGGER point_facts_on_insert AFTER INSERT ON points BEGIN
        {_facts_of("id = NEW.id")};
    END""",
    f"""CREATE TRIGGER point_facts_on_update AFTER UPDATE OF result, summary ON points BEGIN
        DELETE FROM point_facts WHERE point_id = NEW.id;
        {_facts_of("id = NEW.id")};
    END""",
)


# A sweep's analysis and model are JSON or NULL, whatever writes them (a hand edit, a
# damaged copy): a text that is not JSON is not kept, and its readers work out the analysis
# from the points and fit the model, as for a sweep from before they were kept. Checked as
# each is written, so that a reader need not parse it to know.
_SWEEP_TEXTS_CHECKED = tuple(
    f"""CREATE TRIGGER sweep_texts_on_{event.split()[0].lower()} AFTER {event} ON sweeps
    WHEN NOT json_valid(NEW.analysis) OR NOT json_valid(NEW.model) BEGIN
        UPDATE sweeps SET analysis = CASE WHEN json_valid(NEW.analysis) THEN NEW.analysis END,
            model = CASE WHEN json_valid(NEW.model) THEN NEW.model END WHERE id = NEW.id;
    END"""
    for event in ("INSERT", "UPDATE OF analysis, model")
)


def _keep_facts(conn: sqlite3.Connection) -> None:
    """Schema 6 for the rows already stored: the facts of each, as the triggers make them."""
    conn.execute(_facts_of("1"))


# Version -> steps: SQL statements, or functions of the connection for what SQL cannot say.
def _keep_for_exports(conn: sqlite3.Connection) -> None:
    """Schema 5 for the rows already stored: each point's summary, and the analysis of
    each sweep that has ended, so a store from before exports as fast as one written
    since. About 20 s once for 100,000 points. Exports splice a kept row's text as it
    is, so a row gets its summary only where its text is today's: as it was, or written
    anew where it differs only by an empty memory, timeline or conditions (which the
    writer before left in). Any other row (unreadable, of an older result version, with
    a NaN in it, or holding what today's Result would drop) stays without, and its
    readers decode it as before. Not in a read-only open's copy in memory, which is read
    once and gone: its readers work out what is not kept, for no more than this."""
    if not conn.execute("PRAGMA database_list").fetchone()[2]:  # no file: in memory
        return

    def summarised(rows: list[tuple[int, str, int, float | None]]) -> list[tuple[int, Result]]:
        readable, kept = [], []
        for point_id, text, version, _ in rows:
            try:
                record = json.loads(text)
                result = _decoded(record, version)
            except UNREADABLE:
                continue
            readable.append((point_id, result))
            now = result.to_json()
            # The same text less its empty fields; not where a NaN would become a null,
            # which a field that must be a number does not read back.
            then = json.dumps(_without_empty(record), separators=(",", ":"))
            if version == RESULT_VERSION and now == then:
                kept.append((now, point_summary(result), point_id))
        conn.executemany("UPDATE points SET result = ?, summary = ? WHERE id = ?", kept)
        return readable

    columns = "SELECT id, result, result_version, deleted_at FROM points"
    for sweep_id, status in conn.execute("SELECT id, status FROM sweeps").fetchall():
        rows = conn.execute(f"{columns} WHERE sweep_id = ? ORDER BY id", (sweep_id,)).fetchall()
        live = {row[0] for row in rows if row[3] is None}
        readable = summarised(rows)
        if status != "running":
            analysis = sweep_analysis([result for point_id, result in readable if point_id in live])
            conn.execute("UPDATE sweeps SET analysis = ? WHERE id = ?", (analysis, sweep_id))
    last = 0
    while rows := conn.execute(
        f"{columns} WHERE sweep_id IS NULL AND id > ? ORDER BY id LIMIT ?", (last, READ_BATCH)
    ).fetchall():
        summarised(rows)
        last = rows[-1][0]


def _keep_reports(conn: sqlite3.Connection) -> None:
    """Schema 6 for the sweeps already stored: the Markdown section of each whose analysis
    is kept, made from that analysis and its model, on the machine of its first readable
    point (as `finish_sweep` makes it), where that is the first live point and of today's
    shape; any other is left to be made by its exports, as before."""
    if not conn.execute("PRAGMA database_list").fetchone()[2]:  # in memory: as schema 5
        return
    rows = conn.execute(
        "SELECT id, analysis, model, (SELECT CASE WHEN summary IS NOT NULL AND"
        " json_valid(result) THEN json_extract(result, '$.available') END FROM points"
        " WHERE sweep_id = sweeps.id AND deleted_at IS NULL ORDER BY id LIMIT 1)"
        " FROM sweeps WHERE analysis IS NOT NULL"
    )
    kept = []
    for sweep_id, analysis, model, cores in rows:
        try:
            report = ScalingReport.from_dict(json.loads(analysis))
            decoded = None if model is None else json.loads(model)
            markdown = _markdown_of(report, decoded, cores) if isinstance(cores, int) else None
        except (ValueError, KeyError, TypeError, AttributeError):  # a damaged text
            continue  # left to its exports, which say what they cannot read
        if markdown is not None:
            kept.append((markdown, REPORT_VERSION, sweep_id))
    conn.executemany("UPDATE sweeps SET report = ?, report_version = ? WHERE id = ?", kept)


# Each point's CSV cells (PointFacts.csv_cells), kept beside the facts they are made of:
# written by cpulab as it writes the point, formatted by Python from the facts SQLite
# made of the row (SQLite's printf rounds a tie differently from version to version), so
# the same as an export makes from those facts; and gone with the facts whenever the
# row's texts change (_FACT_TRIGGERS make the facts anew without them), so never stale.
# A row without is formatted from its facts, or decoded, as it is exported.
KEPT_CELLS = "UPDATE point_facts SET csv_before = ?, csv_after = ? WHERE point_id = ?"


def keep_csv_cells(conn: sqlite3.Connection, point_id: int | None = None) -> None:
    """The cells of the point of that id (of every point, for None) whose kept facts
    are whole and of today's shape: of no row that its readers would find unreadable."""
    rows = conn.execute(
        f"SELECT id, {_row_columns('facts', checked=True)} WHERE point_id IS NOT NULL"
        f" AND result_version = {RESULT_VERSION} AND summary IS NOT NULL"
        + ("" if point_id is None else " AND id = ?"),
        () if point_id is None else (point_id,),
    )
    while batch := rows.fetchmany(READ_BATCH):
        kept = []
        for row in batch:
            facts = PointFacts(*row[11:])
            if facts.whole:
                cells = facts.csv_cells()
                kept.append((cells.before, cells.after, row[0]))
        conn.executemany(KEPT_CELLS, kept)


def _keep_all_cells(conn: sqlite3.Connection) -> None:
    """Schema 7 for the rows already stored."""
    if conn.execute("PRAGMA database_list").fetchone()[2]:  # not in memory: as schema 6
        keep_csv_cells(conn)


# Each sweep's baseline median (of its 1 x 1 runs), found in its analysis by SQLite as
# that is written, whoever writes it: the CSV export's one figure of the analysis, which
# it found there itself at every export (a quarter of a second at 19,000 sweeps).
_BASELINE_OF_ANALYSIS = (
    "CASE WHEN json_valid({analysis}) THEN json_extract({analysis}, '$.baseline.median') END"
)
_BASELINE_KEPT = tuple(
    f"""CREATE TRIGGER sweep_baseline_on_{event.split()[0].lower()} AFTER {event} ON sweeps
    BEGIN
        UPDATE sweeps SET baseline_median = {_BASELINE_OF_ANALYSIS.format(analysis="NEW.analysis")}
        WHERE id = NEW.id;
    END"""
    for event in ("INSERT", "UPDATE OF analysis")
)


# All pending versions run in one transaction, foreign keys checked at its end; never
# edit a released one.
Migration = str | Callable[[sqlite3.Connection], None]
MIGRATIONS: dict[int, tuple[Migration, ...]] = {
    1: (
        """CREATE TABLE machines (
            id INTEGER PRIMARY KEY,
            fingerprint TEXT NOT NULL UNIQUE,
            hostname TEXT NOT NULL,
            cpu_model TEXT NOT NULL,
            logical_cores INTEGER,
            available_cores INTEGER,
            facts TEXT NOT NULL
        )""",
        """CREATE TABLE sweeps (
            id INTEGER PRIMARY KEY,
            task TEXT NOT NULL,
            scale TEXT NOT NULL,
            strategy TEXT NOT NULL,
            cores TEXT NOT NULL,
            repeats INTEGER NOT NULL,
            warmup INTEGER NOT NULL,
            started_at REAL NOT NULL,
            finished_at REAL,
            status TEXT NOT NULL CHECK (status IN ('running', 'done', 'cancelled', 'failed')),
            machine_id INTEGER NOT NULL REFERENCES machines (id)
        )""",
        """CREATE TABLE points (
            id INTEGER PRIMARY KEY,
            sweep_id INTEGER REFERENCES sweeps (id),
            machine_id INTEGER NOT NULL REFERENCES machines (id),
            created_at REAL NOT NULL,
            task TEXT NOT NULL,
            scale TEXT NOT NULL,
            train INTEGER NOT NULL,
            eval INTEGER NOT NULL,
            fit_time REAL NOT NULL,
            result TEXT NOT NULL
        )""",
        "CREATE INDEX points_by_task ON points (task, scale, train, eval)",
        "CREATE INDEX points_by_sweep ON points (sweep_id)",
        "CREATE INDEX points_by_machine ON points (machine_id)",
        "CREATE INDEX sweeps_by_task ON sweeps (task, scale)",
    ),
    2: (
        """CREATE TABLE software (
            id INTEGER PRIMARY KEY,
            fingerprint TEXT NOT NULL UNIQUE,
            python TEXT NOT NULL,
            facts TEXT NOT NULL
        )""",
        "ALTER TABLE points ADD COLUMN software_id INTEGER REFERENCES software (id)",
        "ALTER TABLE points ADD COLUMN result_version INTEGER NOT NULL DEFAULT 1",
        # A new status and the error of a failed sweep: SQLite changes a CHECK only by
        # building the table anew.
        """CREATE TABLE sweeps_v2 (
            id INTEGER PRIMARY KEY,
            task TEXT NOT NULL,
            scale TEXT NOT NULL,
            strategy TEXT NOT NULL,
            cores TEXT NOT NULL,
            repeats INTEGER NOT NULL,
            warmup INTEGER NOT NULL,
            started_at REAL NOT NULL,
            finished_at REAL,
            status TEXT NOT NULL CHECK (status IN
                ('running', 'done', 'cancelled', 'failed', 'interrupted')),
            error TEXT,
            machine_id INTEGER NOT NULL REFERENCES machines (id)
        )""",
        """INSERT INTO sweeps_v2 (id, task, scale, strategy, cores, repeats, warmup,
            started_at, finished_at, status, machine_id)
            SELECT id, task, scale, strategy, cores, repeats, warmup, started_at,
            finished_at, status, machine_id FROM sweeps""",
        "DROP TABLE sweeps",
        "ALTER TABLE sweeps_v2 RENAME TO sweeps",
        "CREATE INDEX sweeps_by_task ON sweeps (task, scale)",
        "CREATE INDEX points_by_software ON points (software_id)",
        _split_machines_and_software,
    ),
    # A deleted point is marked, not removed: the way back is `restore_points`.
    3: ("ALTER TABLE points ADD COLUMN deleted_at REAL",),
    4: (
        # A sweep's scaling model, fitted once as it ends (models.ScalingModel.to_dict):
        # what its report printed, read back by exports without a refit.
        "ALTER TABLE sweeps ADD COLUMN model TEXT",
        # What `cpulab advise` concluded: its points are stored as sweeps, the record
        # names them.
        """CREATE TABLE advice (
            id INTEGER PRIMARY KEY,
            created_at REAL NOT NULL,
            task TEXT NOT NULL,
            scale TEXT NOT NULL,
            variant TEXT NOT NULL,
            status TEXT NOT NULL,
            machine_id INTEGER NOT NULL REFERENCES machines (id),
            record TEXT NOT NULL
        )""",
        "CREATE INDEX advice_by_task ON advice (task, scale)",
    ),
    5: (
        # What an export reads without decoding a point: each point's statistics and
        # warnings (`point_summary`), each sweep's analysis (`sweep_analysis`). NULL where
        # not computed: rows from before, and a sweep whose points changed since it ended.
        "ALTER TABLE points ADD COLUMN summary TEXT",
        "ALTER TABLE sweeps ADD COLUMN analysis TEXT",
        _keep_for_exports,
    ),
    6: (
        # Each point's facts beyond its columns (PointFacts), for the CSV and Markdown
        # exports: made by SQLite as each row is written (_FACT_TRIGGERS).
        """CREATE TABLE point_facts (
            point_id INTEGER PRIMARY KEY REFERENCES points (id),
            available INTEGER,
            score REAL,
            metric TEXT,
            cpu_time REAL,
            peak_rss INTEGER,
            workers REAL,
            flags TEXT,
            variant TEXT,
            n INTEGER,
            median REAL,
            min REAL,
            max REAL,
            mad REAL
        )""",
        *_FACT_TRIGGERS,
        _keep_facts,
        "UPDATE sweeps SET analysis = NULL WHERE NOT json_valid(analysis)",
        "UPDATE sweeps SET model = NULL WHERE NOT json_valid(model)",
        *_SWEEP_TEXTS_CHECKED,
        # A sweep's live points counted in the index alone (as each read of sweeps does).
        "CREATE INDEX points_live_by_sweep ON points (sweep_id, deleted_at)",
        "DROP INDEX points_by_sweep",
        # Each ended sweep's section of the Markdown report (`_markdown_of`), and the
        # REPORT_VERSION that made it; NULL where its analysis is.
        "ALTER TABLE sweeps ADD COLUMN report TEXT",
        "ALTER TABLE sweeps ADD COLUMN report_version INTEGER",
        _keep_reports,
    ),
    # Each point's cells of a CSV export (KEPT_CELLS): the formatting of its figures was
    # most of such an export's time.
    7: (
        "ALTER TABLE point_facts ADD COLUMN csv_before TEXT",
        "ALTER TABLE point_facts ADD COLUMN csv_after TEXT",
        _keep_all_cells,
        # What an export reads of the points table beside the facts, in an index: a row
        # of it is 2 to 3 KB, a page of the file each, and reading 100,000 of them for
        # their small columns took as long as all else in a CSV export. It counts a
        # sweep's live points as the index it replaces did, in the order of their ids.
        """CREATE INDEX points_for_exports ON points (sweep_id, deleted_at, id, created_at,
            machine_id, software_id, task, scale, train, eval, result_version)""",
        "DROP INDEX points_live_by_sweep",
        _keep_reports,  # of REPORT_VERSION 4
        "ALTER TABLE sweeps ADD COLUMN baseline_median REAL",
        f"UPDATE sweeps SET baseline_median = {_BASELINE_OF_ANALYSIS.format(analysis='analysis')}",
        *_BASELINE_KEPT,
    ),
    # The process that runs each sweep (liveness.this_process), so that one killed without
    # a word is read as interrupted instead of running for ever. NULL for older sweeps.
    8: (
        "ALTER TABLE sweeps ADD COLUMN owner TEXT",
        # What each writer's opening looks for: a scan of every sweep took 25 ms at 19,000.
        "CREATE INDEX sweeps_running ON sweeps (id) WHERE status = 'running'",
    ),
}
# The REPORT_VERSION whose Markdown sections each schema step keeps (`_keep_reports`): a
# store keeps each sweep's section as it read when made, and an export reads only those
# of today's version, making any other anew each time (ten times as long), so a change of
# REPORT_VERSION comes with a step that makes the kept ones again. A test checks it.
SECTIONS_KEPT_AT = {6: 3, 7: 4}
SCHEMA_VERSION = max(MIGRATIONS)
# The oldest schema a reader reads in place, where an older one is brought up to date in a
# copy in memory (500 MB at 100,000 points): the steps since add only what a reader can do
# without. Schema 8's owner of each sweep reads as unknown: a running sweep stays running.
READ_IN_PLACE_FROM = 7


def default_path() -> Path:
    """$CPULAB_DB when set, else results.sqlite in the user's data directory."""
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir("cpulab", appauthor=False)) / "results.sqlite"


@dataclass(frozen=True)
class MachineRecord:
    id: int
    hostname: str
    cpu_model: str
    logical_cores: int | None
    available_cores: int | None
    facts: dict[str, Any]

    @property
    def label(self) -> str:
        """Short enough for a table cell: "host · CPU model · 8 of 16 cores"."""
        parts = [self.hostname or "unknown host", self.cpu_model or "unknown CPU"]
        available, logical = self.available_cores, self.logical_cores
        if available and logical and available != logical:
            parts.append(f"{available} of {logical} cores")
        elif available or logical:
            count = available or logical
            parts.append(f"{count} core" if count == 1 else f"{count} cores")
        return " · ".join(parts)


@dataclass(frozen=True)
class SoftwareRecord:
    id: int
    python: str
    facts: dict[str, Any]  # python, platform, libraries {name: version}

    @property
    def label(self) -> str:
        """Short enough for a line: "Python 3.11.7, scikit-learn 1.7.2, joblib 1.5.1, ..."."""
        libraries = self.facts.get("libraries") or {}
        named = [
            f"{name} {libraries[name]}"
            for name in ("scikit-learn", "joblib", "numpy")
            if libraries.get(name)
        ]
        return ", ".join([f"Python {self.python}", *named])


@dataclass(frozen=True)
class SweepTexts:
    """What a reader of sweeps reads of the JSON each keeps (`ResultStore.iter_sweeps`):
    its model and analysis less the members at these paths, which the reader has no use
    for (fewer bytes to decode), or None: not at all; `baseline`: the median of its 1 x 1
    runs, from its analysis; `report`: its Markdown section as kept, and where it is,
    neither model nor analysis."""

    model: tuple[str, ...] | None = ()
    analysis: tuple[str, ...] | None = ()
    baseline: bool = False
    report: bool = False


ALL_TEXTS = SweepTexts()  # a sweep's model and analysis as stored
NO_TEXTS = SweepTexts(model=None, analysis=None)  # what it is, without its results


@dataclass(frozen=True)
class SweepRecord:
    id: int
    task: str
    scale: str
    strategy: str
    cores: tuple[int, ...]
    repeats: int
    warmup: int
    started_at: float
    finished_at: float | None
    status: str
    error: str | None  # why a failed sweep failed, in one line
    machine_id: int
    n_points: int
    # Whether its analysis is kept: not where its points changed since it ended.
    analysed: bool = False
    # As stored, JSON, where the reader asked for them (SweepTexts): its scaling model as it
    # ended (None: none fitted), its analysis (None: not kept). Decoded only where read.
    model_text: str | None = field(default=None, repr=False)
    analysis_text: str | None = field(default=None, repr=False)
    # The median of its 1 x 1 runs, as its analysis has it, where asked for (None where it
    # has none).
    baseline_median: float | None = None
    # Its section of the Markdown report as kept, where a reader asked for it and today's
    # REPORT_VERSION made it; then its model and analysis are not read.
    report_text: str | None = field(default=None, repr=False)
    read: SweepTexts = field(default=ALL_TEXTS, repr=False)  # what was asked of its JSON

    @cached_property
    def model(self) -> dict[str, Any] | None:
        return None if self.model_text is None else json.loads(self.model_text)


@dataclass(frozen=True)
class AdviceRecord:
    """One `cpulab advise` search: `record` is its Advice.to_dict(), with the sweeps that
    hold its measured points."""

    id: int
    created_at: float
    task: str
    scale: str
    variant: str
    status: str  # how the search ended: settled, budget, cancelled, failed
    machine_id: int
    record: dict[str, Any]


# What a reader of many rows reads of each (`_row_columns`): its result's text and
# summary, or the facts kept beside them, or the CSV cells kept beside those.
RowRead = Literal["text", "facts", "cells"]


class PointRow(NamedTuple):
    """A stored point as its row holds it, undecoded: `text` is its result's JSON, of
    `version`; `summary` its `point_summary`, None where not computed; `facts` its
    PointFacts as kept (point_facts), `cells` its CsvCells as kept, where read so
    (RowRead) and kept. A tuple: an export or a history page makes one a row, and a
    frozen dataclass took four times as long to make (0.2 s of an export of 100,000
    points)."""

    id: int
    sweep_id: int | None
    machine_id: int
    software_id: int | None
    created_at: float
    text: str | None  # None where read without it: `ResultStore.decode` fetches it
    version: int
    summary: str | None  # "" where read without it, and there is one
    valid: bool  # whether `text` is JSON at all
    facts: PointFacts | None = None
    cells: CsvCells | None = None

    @property
    def current(self) -> bool:
        """Whether its text and summary can be read as they are: both of today's shape."""
        return self.valid and self.version == RESULT_VERSION and self.summary is not None


@dataclass(frozen=True)
class StoredPoint:
    id: int
    sweep_id: int | None  # None for a single run
    machine_id: int
    software_id: int | None  # None only where a row written before schema 2 was unreadable
    created_at: float
    result: Result


class ResultStore:
    """The results history in one SQLite file. Open it with `ResultStore.open`."""

    def __init__(self, conn: sqlite3.Connection, path: Path, clock: Callable[[], float]):
        self._conn, self.path, self._clock = conn, path, clock
        # Textual workers may query from another thread; one statement sequence at a time.
        self._lock = threading.RLock()
        # Rows that could not be read, by point id: why, in one line. Reads skip them.
        self.unreadable: dict[int, str] = {}
        self._identity = _identity(path)  # of the file opened, for _write to compare

    @classmethod
    def open(
        cls,
        path: Path | str | None = None,
        *,
        readonly: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> ResultStore:
        """Open or create a store, raising UsageError for any file that is not a sound one
        and, unless `readonly`, for one this process cannot write: found here, before
        anything runs, rather than at the first result.

        Read-only, nothing on disk is created or changed, so a store on a read-only mount
        or in another user's directory can be listed and exported: a store not made yet
        reads as empty, and one of an older schema is brought up to date in a copy in
        memory."""
        path = Path(path).expanduser() if path is not None else default_path()
        _check_file(path)
        if readonly:
            return cls(_connect_readonly(path), path, clock)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create {path.parent}: {exc.strerror}") from None
        _check_writable(path)
        store = cls(_connect_writable(path), path, clock)
        try:
            store._end_sweeps_of_ended_processes()
        except BaseException:
            store.close()
            raise
        return store

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @cached_property
    def _owner(self) -> str:
        """What a sweep's owner is read as: NULL in a schema 7 store read in place."""
        return "owner" if self._read("PRAGMA user_version")[0][0] >= 8 else "NULL"

    @cached_property
    def in_memory(self) -> bool:
        """Whether it is a copy in memory: an older store opened read-only, brought up to
        date without what its rows did not keep (`_keep_all_cells`, say)."""
        return not self._read("PRAGMA database_list")[0][2]

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Every read inside sees the store as the first of them did, whatever another
        process commits meanwhile: an export read in many batches is of one moment. For
        reading only, and other threads wait for its end."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield
            finally:
                # Nothing was written: this only ends the read, where SQLite has not
                # already (as it may on meeting a damaged page).
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")

    def start_sweep(
        self,
        task: str,
        scale: str,
        strategy: str,
        cores: list[int],
        repeats: int,
        warmup: int,
        machine: dict[str, Any],
    ) -> int:
        """Record a sweep as running, run by this process: one that ends without
        `finish_sweep` is read as interrupted once it is gone. The parent cannot know the
        libraries the child loads, so the sweep takes the fuller machine facts of its first
        point when that arrives."""
        with self._write() as conn:
            machine_id = _register_machine(conn, machine)
            cursor = conn.execute(
                "INSERT INTO sweeps (task, scale, strategy, cores, repeats, warmup, started_at,"
                " status, machine_id, owner) VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, ?)",
                (
                    task,
                    scale,
                    strategy,
                    json.dumps(list(cores)),
                    repeats,
                    warmup,
                    self._clock(),
                    machine_id,
                    liveness.this_process(),
                ),
            )
            return _row_id(cursor)

    def add_point(self, result: Result, sweep_id: int | None = None) -> int:
        """Store one result, committed before this returns."""
        with self._write() as conn:
            machine_id = _register_machine(conn, result.machine)
            software_id = _register_software(conn, result.software)
            if sweep_id is not None:
                _join_sweep(conn, sweep_id, result, machine_id)
            cursor = conn.execute(
                "INSERT INTO points (sweep_id, machine_id, software_id, created_at, task, scale,"
                " train, eval, fit_time, result, result_version, summary)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    sweep_id,
                    machine_id,
                    software_id,
                    self._clock(),
                    result.task,
                    result.scale,
                    result.train,
                    result.eval,
                    result.fit_time,
                    result.to_json(),
                    RESULT_VERSION,
                    point_summary(result),
                ),
            )
            point_id = _row_id(cursor)
            keep_csv_cells(conn, point_id)
            return point_id

    def replace_point(self, point_id: int, result: Result) -> None:
        """Store a later state of a point: its next measured run, or its final result."""
        with self._write() as conn:
            software_id = _register_software(conn, result.software)
            cursor = conn.execute(
                "UPDATE points SET software_id = ?, fit_time = ?, result = ?, result_version = ?,"
                " summary = ? WHERE id = ?",
                (
                    software_id,
                    result.fit_time,
                    result.to_json(),
                    RESULT_VERSION,
                    point_summary(result),
                    point_id,
                ),
            )
            if cursor.rowcount == 0:
                raise ValueError(f"there is no point {point_id}")
            keep_csv_cells(conn, point_id)
            self._analyse_again(conn, [point_id])

    def finish_sweep(
        self,
        sweep_id: int,
        status: str,
        error: str | None = None,
        model: dict[str, Any] | None = None,
    ) -> None:
        """Record how a sweep ended; a failed one keeps its error, any its scaling model.
        Its analysis is stored with it, made from its points as they are now."""
        if status not in SWEEP_STATUSES[1:]:
            raise ValueError(f"a sweep finishes as one of {', '.join(SWEEP_STATUSES[1:])}")
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE sweeps SET status = ?, error = ?, finished_at = ? WHERE id = ?",
                (status, error, self._clock(), sweep_id),
            )
            if cursor.rowcount == 0:
                raise ValueError(f"there is no sweep {sweep_id}")
            deleted = conn.execute(
                "SELECT EXISTS (SELECT 1 FROM points WHERE sweep_id = ? AND deleted_at IS NOT"
                " NULL)",
                (sweep_id,),
            ).fetchone()[0]
            # The session's model is of every point it measured: where some were deleted
            # while it ran, the model of those left, as after any delete.
            self._keep_analyses(conn, [sweep_id], "fit" if deleted else model)

    def _end_sweeps_of_ended_processes(self) -> None:
        """Store as interrupted each running sweep whose process ended without saying how
        (killed, or its machine stopped), keeping its analysis as any end does. Where the
        store is locked, readers take it as interrupted all the same, and a later opening
        stores it."""
        rows = self._read("SELECT id, owner FROM sweeps WHERE status = 'running'")
        ended = [sweep_id for sweep_id, owner in rows if owner and liveness.gone(owner)]
        if not ended:
            return
        # Not worth a wait on another process's lock: an opening never waited for one.
        with self.waiting_at_most(0), suppress(sqlite3.Error, OSError), self._write() as conn:
            for sweep_id in ended:
                cursor = conn.execute(
                    "UPDATE sweeps SET status = 'interrupted', error = ?"
                    " WHERE id = ? AND status = 'running'",
                    (OWNER_GONE, sweep_id),
                )
                if cursor.rowcount:  # not finished by its process since it was read
                    self._keep_analyses(conn, [sweep_id])

    @contextmanager
    def waiting_at_most(self, seconds: float) -> Iterator[None]:
        """Writes inside wait at most `seconds` for another process's write lock, not
        BUSY_TIMEOUT (SQLite's wait cannot be cut short); other threads wait meanwhile."""
        with self._lock:
            self._conn.execute(f"PRAGMA busy_timeout = {round(seconds * 1000)}")
            try:
                yield
            finally:
                self._conn.execute(f"PRAGMA busy_timeout = {round(BUSY_TIMEOUT * 1000)}")

    def forget_sweep(self, sweep_id: int) -> None:
        """Remove a sweep that has no points: one refused before it measured anything (a
        data file only the runner could read, say) leaves no trace in the history."""
        with self._write() as conn:
            conn.execute(
                "DELETE FROM sweeps WHERE id = ? AND NOT EXISTS"
                " (SELECT 1 FROM points WHERE sweep_id = ?)",
                (sweep_id, sweep_id),
            )

    def add_advice(
        self,
        task: str,
        scale: str,
        variant: str,
        status: str,
        machine: dict[str, Any],
        record: dict[str, Any],
    ) -> int:
        """Store what an advice search concluded, committed before this returns."""
        text = json.dumps(record, allow_nan=False)
        with self._write() as conn:
            machine_id = _register_machine(conn, machine)
            cursor = conn.execute(
                "INSERT INTO advice (created_at, task, scale, variant, status, machine_id,"
                " record) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (self._clock(), task, scale, variant, status, machine_id, text),
            )
            return _row_id(cursor)

    def advice(
        self, task: str | None = None, ids: Collection[int] | None = None, limit: int = 50
    ) -> list[AdviceRecord]:
        """Advice records, newest first: of one task, or these ids."""
        clauses, params = self._filters(task=task, machine=None)
        if ids is not None:
            chosen = sorted(set(ids))[:READ_BATCH]
            clauses.append(f"id IN ({', '.join('?' * len(chosen))})")
            params.extend(chosen)
        rows = self._read(
            "SELECT id, created_at, task, scale, variant, status, machine_id, record FROM advice"
            f" WHERE {' AND '.join(clauses) or '1'} ORDER BY id DESC LIMIT {int(limit)}",
            tuple(params),
        )
        return [AdviceRecord(**{**dict(row), "record": json.loads(row["record"])}) for row in rows]

    def delete_points(self, ids: Collection[int]) -> int:
        """Mark these points deleted: every read leaves them out from now on, and
        `restore_points` brings them back. Returns how many were live."""
        return self._mark_deleted(ids, self._clock())

    def restore_points(self, ids: Collection[int]) -> int:
        """Undo `delete_points`. Returns how many were deleted."""
        return self._mark_deleted(ids, None)

    def deleted_ids(self, ids: Collection[int]) -> dict[int, bool]:
        """Which of these points exist, and whether each is deleted."""
        found: dict[int, bool] = {}
        chosen = sorted(set(ids))
        for start in range(0, len(chosen), READ_BATCH):
            batch = chosen[start : start + READ_BATCH]
            rows = self._read(
                "SELECT id, deleted_at IS NOT NULL FROM points"
                f" WHERE id IN ({', '.join('?' * len(batch))})",
                tuple(batch),
            )
            found.update((row[0], bool(row[1])) for row in rows)
        return found

    def _mark_deleted(self, ids: Collection[int], when: float | None) -> int:
        chosen = sorted(set(ids))
        changed = 0
        with self._write() as conn:
            for start in range(0, len(chosen), READ_BATCH):
                batch = chosen[start : start + READ_BATCH]
                marks = ", ".join("?" * len(batch))
                now_live = "IS NULL" if when is not None else "IS NOT NULL"
                cursor = conn.execute(
                    f"UPDATE points SET deleted_at = ? WHERE id IN ({marks})"
                    f" AND deleted_at {now_live}",
                    (when, *batch),
                )
                changed += cursor.rowcount
                self._analyse_again(conn, batch)
        return changed

    def _analyse_again(self, conn: sqlite3.Connection, point_ids: list[int]) -> None:
        """The sweeps these points are of, whose points changed: an ended one keeps its
        analysis, section and model made anew from its live points, so a restore undoes a
        delete exactly; a running one keeps none until it ends."""
        marks = ", ".join("?" * len(point_ids))
        rows = conn.execute(
            "SELECT id, status FROM sweeps WHERE id IN"
            f" (SELECT sweep_id FROM points WHERE id IN ({marks}) AND sweep_id IS NOT NULL)",
            point_ids,
        ).fetchall()
        running = [row[0] for row in rows if row[1] == "running"]
        conn.executemany(
            "UPDATE sweeps SET analysis = NULL, report = NULL, model = NULL WHERE id = ?",
            [(sweep_id,) for sweep_id in running],
        )
        self._keep_analyses(conn, [row[0] for row in rows if row[1] != "running"])

    def _keep_analyses(
        self,
        conn: sqlite3.Connection,
        sweep_ids: list[int],
        model: dict[str, Any] | Literal["fit"] | None = "fit",
    ) -> None:
        """Each sweep's analysis, Markdown section and `model` from its live points, as
        `finish_sweep` keeps them; "fit": the model `cpulab sweep` fits to them."""
        for sweep_id in sweep_ids:
            rows = conn.execute(
                "SELECT id, result, result_version FROM points"
                " WHERE sweep_id = ? AND deleted_at IS NULL ORDER BY id",
                (sweep_id,),
            ).fetchall()
            decoded = (self._result(row[0], row[1], row[2]) for row in rows)
            results = [result for result in decoded if result is not None]
            if model == "fit":
                fitted = sweep_model(results)
                kept = fitted.to_dict(results[0].available) if fitted is not None else None
            else:
                kept = model
            analysis, markdown = sweep_texts(results, kept)
            conn.execute(
                "UPDATE sweeps SET model = ?, analysis = ?, report = ?, report_version = ?"
                " WHERE id = ?",
                (
                    None if kept is None else json.dumps(kept, allow_nan=False),
                    analysis,
                    markdown,
                    REPORT_VERSION,
                    sweep_id,
                ),
            )

    def points(
        self,
        task: str | None = None,
        machine: int | str | None = None,
        sweep_id: int | None = None,
        scale: str | None = None,
        *,
        machine_ids: Collection[int] | None = None,
        single_runs: bool = False,
        before: int | None = None,
        newest_first: bool = False,
        limit: int | None = None,
        deleted: bool = False,
    ) -> list[StoredPoint]:
        """Stored points in the order they were added, unreadable rows left out (and named
        in `unreadable`). `machine` is a machine id, or text found in the host name or
        CPU model, in any case. For the other filters and pages, see `iter_points`."""
        return list(
            self.iter_points(
                task,
                machine,
                sweep_id,
                scale,
                machine_ids=machine_ids,
                single_runs=single_runs,
                before=before,
                newest_first=newest_first,
                limit=limit,
                deleted=deleted,
            )
        )

    def point(self, point_id: int) -> StoredPoint | None:
        """The point of that id, decoded; None where there is none, it is deleted or it
        cannot be read (named in `unreadable`)."""
        rows = self._read(
            f"SELECT {_row_columns('text', checked=False)} WHERE id = ? AND deleted_at IS NULL",
            (point_id,),
        )
        return self.decode(_point_row(rows[0], "text")) if rows else None

    def iter_points(
        self,
        task: str | None = None,
        machine: int | str | None = None,
        sweep_id: int | None = None,
        scale: str | None = None,
        *,
        machine_ids: Collection[int] | None = None,
        single_runs: bool = False,
        before: int | None = None,
        newest_first: bool = False,
        limit: int | None = None,
        deleted: bool = False,
    ) -> Iterator[StoredPoint]:
        """`points`, read READ_BATCH rows at a time, so memory stays flat however many
        there are. The filters are `points`'s, and `machine_ids` (any of these machines),
        `single_runs` (outside any sweep), `before` (older than that point id), `deleted`
        (the points deleted, instead of the others). Newest first where asked; at most
        `limit` readable points, an unreadable row not counting."""
        rows = self.iter_point_rows(
            task,
            machine,
            sweep_id,
            scale,
            machine_ids=machine_ids,
            single_runs=single_runs,
            before=before,
            newest_first=newest_first,
            deleted=deleted,
            checked=False,
            batch=READ_BATCH if limit is None else max(1, min(READ_BATCH, limit)),
        )
        wanted = limit
        for row in rows:
            if wanted is not None and wanted <= 0:
                return
            point = self.decode(row)
            if point is None:
                continue
            if wanted is not None:
                wanted -= 1
            yield point

    def iter_point_rows(
        self,
        task: str | None = None,
        machine: int | str | None = None,
        sweep_id: int | None = None,
        scale: str | None = None,
        *,
        machine_ids: Collection[int] | None = None,
        single_runs: bool = False,
        before: int | None = None,
        newest_first: bool = False,
        deleted: bool = False,
        read: RowRead = "text",
        checked: bool = True,
        batch: int | None = None,
    ) -> Iterator[PointRow]:
        """The rows `iter_points` decodes, as they are, `batch` at a time; `read` says what
        of each: its texts, or the facts or CSV cells kept instead (see `_row_columns`):
        far fewer bytes than a whole record, decoded here. `checked`: see `_row_columns`."""
        batch = batch or READ_BATCH
        clauses, params = self._filters(
            task=task, scale=scale, sweep_id=sweep_id, machine=machine, machine_ids=machine_ids
        )
        clauses.append("deleted_at IS NOT NULL" if deleted else "deleted_at IS NULL")
        if single_runs:
            clauses.append("sweep_id IS NULL")
        if before is not None:
            clauses.append("id < ?")
            params.append(before)
        # Each batch starts past the last id read: a query of its own, so no statement
        # stays open between batches (the lock is free for other threads meanwhile), and
        # each finds its place through the primary key or an index, not by skipping rows.
        last: int | None = None
        step, order = ("<", "DESC") if newest_first else (">", "ASC")
        while True:
            after = [f"id {step} ?"] if last is not None else []
            where = " AND ".join([*clauses, *after])
            rows = self._read(
                f"SELECT {_row_columns(read, checked)}"
                f"{' WHERE ' + where if where else ''} ORDER BY id {order} LIMIT ?",
                (*params, *([last] if last is not None else []), batch),
            )
            for row in rows:
                yield _point_row(row, read)
            if len(rows) < batch:
                return
            last = rows[-1]["id"]

    def iter_sweep_rows(
        self,
        task: str | None = None,
        machine: int | str | None = None,
        read: RowRead = "text",
        first_only: bool = False,
        texts: SweepTexts = ALL_TEXTS,
    ) -> Iterator[tuple[SweepRecord, list[PointRow]]]:
        """Each sweep with its live points' rows, in the order they were added, or only
        the first (`first_only`); `read` as `iter_point_rows` takes it. The points of
        several sweeps come in one query, at most READ_BATCH rows (or one sweep's, where
        it has more), so memory stays flat. `texts` as `iter_sweeps` takes it."""
        batch: list[SweepRecord] = []
        count = 0
        for record in self.iter_sweeps(task=task, machine=machine, texts=texts):
            points = 1 if first_only else record.n_points
            if batch and count + points > READ_BATCH:
                yield from self._with_rows(batch, read, first_only)
                batch, count = [], 0
            batch.append(record)
            count += points
        if batch:
            yield from self._with_rows(batch, read, first_only)

    def _with_rows(
        self, sweeps: list[SweepRecord], read: RowRead, first_only: bool
    ) -> Iterator[tuple[SweepRecord, list[PointRow]]]:
        found: dict[int, list[PointRow]] = {record.id: [] for record in sweeps}
        live = f"sweep_id IN ({', '.join('?' * len(found))}) AND deleted_at IS NULL"
        if first_only:
            live = f"id IN (SELECT MIN(id) FROM points WHERE {live} GROUP BY sweep_id)"
        rows = self._read(
            f"SELECT {_row_columns(read, checked=True)} WHERE {live} ORDER BY sweep_id, id",
            tuple(found),
        )
        for row in rows:
            found[row["sweep_id"]].append(_point_row(row, read))
        for record in sweeps:
            yield record, found[record.id]

    def decode(self, row: PointRow) -> StoredPoint | None:
        """The row's point with its result decoded; None, and the reason kept in
        `unreadable`, where that cannot be read."""
        text = row.text
        if text is None:
            found = self._read("SELECT result FROM points WHERE id = ?", (row.id,))
            if not found:
                return None  # gone since: removed by nothing cpulab does
            text = found[0][0]
        result = self._result(row.id, text, row.version)
        if result is None:
            return None
        return StoredPoint(
            row.id, row.sweep_id, row.machine_id, row.software_id, row.created_at, result
        )

    def count_points(
        self,
        task: str | None = None,
        machine: int | str | None = None,
        *,
        before: int | None = None,
        deleted: bool = False,
    ) -> int:
        """How many rows `iter_points` finds with these filters, unreadable ones included:
        counted in the indexes, without reading a result."""
        clauses, params = self._filters(task=task, machine=machine)
        clauses.append("deleted_at IS NOT NULL" if deleted else "deleted_at IS NULL")
        if before is not None:
            clauses.append("id < ?")
            params.append(before)
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        return self._read(f"SELECT COUNT(*) FROM points{where}", tuple(params))[0][0]

    def task_names(self) -> list[str]:
        """Every task the store holds a result of, deleted ones too, in name order."""
        return [name for (name,) in self._read("SELECT DISTINCT task FROM points ORDER BY task")]

    def has_task(self, task: str) -> bool:
        """Whether any result of `task` is stored, deleted ones too (an index seek)."""
        return bool(self._read("SELECT 1 FROM points WHERE task = ? LIMIT 1", (task,)))

    def sweeps(
        self,
        task: str | None = None,
        machine: int | str | None = None,
        ids: Collection[int] | None = None,
    ) -> list[SweepRecord]:
        """Sweeps in the order they started; `ids`: only these."""
        return list(self.iter_sweeps(task, machine, ids))

    def iter_sweeps(
        self,
        task: str | None = None,
        machine: int | str | None = None,
        ids: Collection[int] | None = None,
        texts: SweepTexts = ALL_TEXTS,
    ) -> Iterator[SweepRecord]:
        """`sweeps`, read READ_BATCH at a time, with what `texts` asks of their JSON."""
        clauses, params = self._filters(task=task, machine=machine)
        if ids is not None:
            chosen = sorted(set(ids))
            # In batches, so never more bound variables than SQLite allows.
            for start in range(0, len(chosen), READ_BATCH):
                batch = chosen[start : start + READ_BATCH]
                marks = ", ".join("?" * len(batch))
                yield from self._sweep_batch(
                    [*clauses, f"id IN ({marks})"], [*params, *batch], texts=texts
                )
            return
        last = 0  # row ids start at 1
        while True:
            records = self._sweep_batch([*clauses, "id > ?"], [*params, last], texts=texts)
            yield from records
            if len(records) < READ_BATCH:
                return
            last = records[-1].id

    def newest_sweeps(
        self, limit: int, machine_ids: Collection[int] | None = None
    ) -> list[SweepRecord]:
        """The `limit` sweeps started last (of these machines), newest first."""
        clauses, params = self._filters(machine=None, machine_ids=machine_ids)
        return self._sweep_batch(clauses or ["1"], params, order="DESC", limit=limit)

    def _sweep_batch(
        self,
        clauses: list[str],
        params: list[Any],
        order: str = "ASC",
        limit: int = READ_BATCH,
        texts: SweepTexts = ALL_TEXTS,
    ) -> list[SweepRecord]:
        # Where the Markdown section is kept and asked for, nothing else of the JSON is read.
        # (Not where the analysis is gone: a writer from before schema 6 forgets only that.)
        kept = (
            f"report_version = {REPORT_VERSION} AND report IS NOT NULL AND analysis IS NOT NULL"
            if texts.report
            else "0"
        )

        # Each text is JSON or NULL (_SWEEP_TEXTS_CHECKED): read without a parse to check.
        def read(column: str, paths: tuple[str, ...] | None) -> str:
            if paths is None:
                return "NULL"
            trimmed = _removing(column, paths)
            return f"CASE WHEN {kept} THEN NULL ELSE {trimmed} END" if texts.report else trimmed

        rows = self._read(
            # SweepRecord's fields, in its order.
            "SELECT id, task, scale, strategy, cores, repeats, warmup, started_at, finished_at,"
            " status, error, machine_id,"
            " (SELECT COUNT(*) FROM points WHERE sweep_id = sweeps.id AND deleted_at IS NULL),"
            " analysis IS NOT NULL,"
            f" {read('model', texts.model)}, {read('analysis', texts.analysis)},"
            f" {'baseline_median' if texts.baseline else 'NULL'},"
            f" CASE WHEN {kept} THEN report END, {self._owner}"
            f" FROM sweeps WHERE {' AND '.join(clauses)} ORDER BY id {order} LIMIT {int(limit)}",
            (*(texts.model or ()), *(texts.analysis or ()), *params),
        )
        return [_sweep_record(row, texts) for row in rows]

    def host_machine_ids(self, hostname: str, cpu_model: str) -> list[int]:
        """The machines of this host name and CPU model, by id: one, or several where its
        cores or limits changed over time."""
        rows = self._read(
            "SELECT id FROM machines WHERE hostname = ? AND cpu_model = ? ORDER BY id",
            (hostname, cpu_model),
        )
        return [row["id"] for row in rows]

    def machines(self) -> list[MachineRecord]:
        rows = self._read(
            "SELECT id, hostname, cpu_model, logical_cores, available_cores, facts"
            " FROM machines ORDER BY id"
        )
        return [MachineRecord(**{**dict(row), "facts": json.loads(row["facts"])}) for row in rows]

    def software(self) -> list[SoftwareRecord]:
        rows = self._read("SELECT id, python, facts FROM software ORDER BY id")
        return [SoftwareRecord(**{**dict(row), "facts": json.loads(row["facts"])}) for row in rows]

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if _identity(self.path) != self._identity:
                # SQLite would go on writing to the deleted file, and lose every write.
                raise OSError(f"{self.path} was deleted or replaced while open")
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _read(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.DatabaseError as exc:
                if type(exc) not in (sqlite3.OperationalError, sqlite3.DatabaseError):
                    raise  # a misuse, such as a closed store: a bug, not the file's fault
                # Damage a store too large to check page by page on opening shows here.
                raise _sqlite_failure(self.path, exc) from None

    def _filters(
        self,
        *,
        machine: int | str | None,
        machine_ids: Collection[int] | None = None,
        **equal: Any,
    ) -> tuple[list[str], list[Any]]:
        """WHERE clauses, to be joined with AND, and their parameters."""
        clauses = [f"{column} = ?" for column, value in equal.items() if value is not None]
        params = [value for value in equal.values() if value is not None]
        for ids in (self._machine_ids(machine) if machine is not None else None, machine_ids):
            if ids is not None:
                ids = list(ids)
                # With no machine matching, "0" matches no row either.
                clauses.append(f"machine_id IN ({', '.join('?' * len(ids))})" if ids else "0")
                params.extend(ids)
        return clauses, params

    def _machine_ids(self, machine: int | str) -> list[int]:
        if isinstance(machine, int):
            return [machine]
        # Matched here rather than in SQL, whose lower() only folds ASCII.
        needle = machine.casefold()
        return [
            m.id
            for m in self.machines()
            if needle in m.hostname.casefold() or needle in m.cpu_model.casefold()
        ]

    def _result(self, point_id: int, text: str, version: int) -> Result | None:
        """The row's result as today's Result; None, and the reason kept, if unreadable."""
        try:
            return _decoded(json.loads(text), version)
        except UNREADABLE as exc:
            self.unreadable[point_id] = f"point {point_id} cannot be read: {exc}"
            return None


UNREADABLE = (ValueError, RecursionError, EventError)  # what `_decoded` raises


def _decoded(record: Any, version: int) -> Result:
    """A stored result's decoded JSON, of `version`, as today's Result."""
    if not isinstance(record, dict):
        raise EventError("not a JSON object")
    result = event_from_dict(upgrade_result(record, version))
    if not isinstance(result, Result):
        raise EventError(f"it holds a {result.kind}, not a result")
    return result


def _without_empty(record: dict[str, Any]) -> dict[str, Any]:
    """A stored record less the optional fields it holds empty, as `Result.to_json` writes
    it now."""
    return {k: v for k, v in record.items() if not (k in OPTIONAL and v in ({}, None))}


def point_summary(result: Result) -> str:
    """What an export adds to a point's result, as JSON stored with it: the figures
    `Result.record` derives (fit_time, fit_min, fit_max, in that order and first), then
    the statistics of its times and the warnings they raise."""
    stats = PointStats.of(result.fit_times)
    return compact_json({
        "fit_time": stats.median,
        "fit_min": stats.min,
        "fit_max": stats.max,
        "stats": stats.to_dict(),
        "warnings": stats.warnings(result.flags),
    })  # fmt: skip


def sweep_analysis(results: Collection[Result]) -> str | None:
    """A sweep's analysis (stats.ScalingReport.to_dict) as JSON stored with it; None for
    no results, or results that share no curve (a damaged store's)."""
    report = _analysed(results)
    return None if report is None else compact_json(report.to_dict())


def _analysed(results: Collection[Result]) -> ScalingReport | None:
    if not results:
        return None
    try:
        return analyse_results(results)
    except (ValueError, ArithmeticError):  # a time of 0 s, say, in a damaged store
        return None


def sweep_texts(
    results: list[Result], model: dict[str, Any] | None
) -> tuple[str | None, str | None]:
    """What the store keeps of a sweep as it ends: its analysis (`sweep_analysis`) and its
    section of the Markdown report (`_markdown_of`), from its live points' results and its
    scaling model."""
    report = _analysed(results)
    if report is None:
        return None, None
    return compact_json(report.to_dict()), _markdown_of(report, model, results[0].available)


def _markdown_of(
    report: ScalingReport, model: dict[str, Any] | None, machine_cores: int
) -> str | None:
    """A sweep's Markdown section (presentation.sweep_markdown) as the store keeps it, made
    from its analysis and stored model on the machine of its first readable point, as an
    export would make it. None where the export would fit a model itself: a sweep stored
    without one, though it has two core counts (schema 3 and older)."""
    if model is None and len(report.best_per_cores) > 1:
        return None
    return "\n".join(sweep_markdown(report, model, machine_cores))


def _identity(path: Path) -> tuple[int, int] | None:
    """Which file `path` names now (device and inode); None when it names none."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return (found.st_dev, found.st_ino)


def _row_id(cursor: sqlite3.Cursor) -> int:
    assert cursor.lastrowid is not None  # an INSERT's cursor always has one
    return cursor.lastrowid


def _register_machine(conn: sqlite3.Connection, facts: dict[str, Any]) -> int:
    fingerprint = _fingerprint(facts, MACHINE_KEYS)
    cores = facts["cores"] if isinstance(facts.get("cores"), dict) else {}
    conn.execute(
        "INSERT OR IGNORE INTO machines (fingerprint, hostname, cpu_model, logical_cores,"
        " available_cores, facts) VALUES (?, ?, ?, ?, ?, ?)",
        (
            fingerprint,
            str(facts.get("hostname") or ""),
            str(facts.get("cpu_model") or ""),
            facts.get("logical_cores", cores.get("logical")),
            cores.get("available"),
            json.dumps(facts, sort_keys=True),
        ),
    )
    row = conn.execute("SELECT id FROM machines WHERE fingerprint = ?", (fingerprint,)).fetchone()
    return row[0]


def _register_software(conn: sqlite3.Connection, facts: dict[str, Any]) -> int:
    software = {key: facts.get(key) for key in SOFTWARE_KEYS}
    fingerprint = _fingerprint(software, SOFTWARE_KEYS)
    conn.execute(
        "INSERT OR IGNORE INTO software (fingerprint, python, facts) VALUES (?, ?, ?)",
        (fingerprint, str(software["python"] or ""), json.dumps(software, sort_keys=True)),
    )
    row = conn.execute("SELECT id FROM software WHERE fingerprint = ?", (fingerprint,)).fetchone()
    return row[0]


def _removing(column: str, paths: tuple[str, ...]) -> str:
    """The JSON in `column`, less the members at `paths` (bound in that order)."""
    return f"json_remove({column}, {', '.join('?' * len(paths))})" if paths else column


def _row_columns(read: RowRead, checked: bool) -> str:
    """The columns of a PointRow (`_point_row`), in its order, and the tables they come
    from. With "text", `checked` has SQLite tell whether the text is JSON (else `valid` is
    0: a reader that decodes every row finds out itself, at no extra cost). With "facts"
    or "cells", what is kept instead of the texts, which stay in the store: a reader that
    needs them (`decode`) fetches them; and a row is taken as JSON (a row without facts or
    cells is decoded, which says what it cannot read)."""
    if read != "text":
        kept = (
            f"task, scale, train, eval, {', '.join(_KEPT_FACTS)}"
            if read == "facts"
            else "task, scale, train * eval, median, csv_before, csv_after"
        )
        # A row with facts has a summary (the triggers make facts only of such rows): the
        # columns of points read here are all in the index points_for_exports.
        return (
            "id, sweep_id, machine_id, software_id, created_at, NULL, result_version,"
            " CASE WHEN point_id IS NOT NULL THEN '' END, 1, point_id IS NOT NULL,"
            f" {kept} FROM points LEFT JOIN point_facts ON point_id = id"
        )
    # A row with facts was JSON when last written, and SQLite makes its facts anew at any
    # change to it (_FACT_TRIGGERS): only a row without needs a parse to tell (a quarter
    # of a second in a JSON export of 100,000 points).
    witnessed = "EXISTS (SELECT 1 FROM point_facts WHERE point_id = points.id)"
    valid = f"CASE WHEN {witnessed} THEN 1 ELSE json_valid(result) END" if checked else "0"
    return (
        "id, sweep_id, machine_id, software_id, created_at, result, result_version,"
        f" summary, {valid}, 0 FROM points"
    )


def _sweep_record(row: sqlite3.Row, texts: SweepTexts) -> SweepRecord:
    """The record of a row of `ResultStore._sweep_batch`, whose columns are its fields."""
    (sweep_id, task, scale, strategy, cores, repeats, warmup, started, finished, status, error,
     machine_id, points, analysed, model, analysis, baseline, report, owner) = row  # fmt: skip
    if status == "running" and owner is not None and liveness.gone(owner):
        status, error = "interrupted", OWNER_GONE  # as a writer will store it
    return SweepRecord(
        sweep_id, task, scale, strategy, tuple(json.loads(cores)), repeats, warmup, started,
        finished, status, error, machine_id, points, bool(analysed), model, analysis, baseline,
        report, texts,
    )  # fmt: skip


def _point_row(row: sqlite3.Row, read: RowRead) -> PointRow:
    facts = cells = None
    if read == "facts" and row[9]:
        facts = PointFacts(*row[10:])
    elif read == "cells" and row[14] is not None and row[15] is not None:
        cells = CsvCells(csv_cell(row[10]), csv_cell(row[11]), *row[12:])
    return PointRow(
        row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], facts, cells
    )


def _taken_for_gone(row: sqlite3.Row) -> bool:
    """Whether a sweep of this process is stored as ended by its process's death."""
    return (
        row["status"] == "interrupted"
        and row["error"] == OWNER_GONE
        and row["owner"] == liveness.this_process()
    )


def _join_sweep(conn: sqlite3.Connection, sweep_id: int, result: Result, machine_id: int) -> None:
    row = conn.execute(
        "SELECT task, scale, status, error, owner, machine_id,"
        " EXISTS (SELECT 1 FROM points WHERE sweep_id = sweeps.id) AS started"
        " FROM sweeps WHERE id = ?",
        (sweep_id,),
    ).fetchone()
    if row is None:
        raise ValueError(f"there is no sweep {sweep_id}")
    if (row["task"], row["scale"]) != (result.task, result.scale):
        raise ValueError(f"sweep {sweep_id} is of {row['task']} at {row['scale']} scale")
    if _taken_for_gone(row):
        # Another process took this one for gone, where it could not tell: it runs still.
        conn.execute(
            "UPDATE sweeps SET status = 'running', error = NULL, analysis = NULL,"
            " report = NULL, model = NULL WHERE id = ?",
            (sweep_id,),
        )
    elif row["status"] != "running":
        raise ValueError(f"sweep {sweep_id} is {row['status']}, no longer running")
    if not row["started"] and row["machine_id"] != machine_id:
        conn.execute("UPDATE sweeps SET machine_id = ? WHERE id = ?", (machine_id, sweep_id))
        conn.execute(
            "DELETE FROM machines WHERE id = ?"
            " AND NOT EXISTS (SELECT 1 FROM sweeps WHERE machine_id = machines.id)"
            " AND NOT EXISTS (SELECT 1 FROM points WHERE machine_id = machines.id)",
            (row["machine_id"],),
        )


def _connect(path: Path, database: str | None = None) -> sqlite3.Connection:
    """A connection to the store at `path`; through `database` where given, an SQLite URI
    or ":memory:". Errors name `path`."""
    try:
        conn = sqlite3.connect(
            path if database is None else database,
            uri=database is not None,
            timeout=BUSY_TIMEOUT,
            isolation_level=None,
            check_same_thread=False,
        )
    except sqlite3.Error as exc:
        raise UsageError(f"cannot open {path}: {exc}") from None
    conn.row_factory = sqlite3.Row
    return conn


def _connect_writable(path: Path) -> sqlite3.Connection:
    """A connection to the store at `path` (checked), its schema brought up to date.

    Where processes open a new store together, one switching it to WAL mode while another
    commits to it, SQLite refuses the switch at once rather than wait into a deadlock: such
    an opening is tried again, for as long as a write is waited for, each after a pause of
    its own length so that processes that all tried to switch it do not keep meeting. A
    store of an older schema may be being brought up to date by another process, which
    takes longer: up to UPGRADE_PATIENCE is waited for that."""
    migrated = False
    started = time.monotonic()
    deadline = started + BUSY_TIMEOUT
    while True:
        conn = _connect(path)
        try:
            if _pragma(conn, "user_version") < SCHEMA_VERSION:
                deadline = max(deadline, started + UPGRADE_PATIENCE)
            migrated = _migrate(conn, path) or migrated
            if migrated:
                # Anew: after ALTER TABLE ... RENAME, SQLite keeps the connection that ran it
                # from checkpointing, and the new version must reach the file's header.
                conn.close()
                conn = _connect(path)
            _prepare(conn, checkpoint=migrated)
            return conn
        except sqlite3.Error as exc:
            conn.close()
            if not (locked_out(exc) and time.monotonic() < deadline):
                raise UsageError(f"cannot open {path}: {exc}") from None
        except BaseException:
            conn.close()
            raise
        time.sleep(random.uniform(0.005, 0.05))


def locked_out(exc: BaseException) -> bool:
    """Whether `exc` is SQLite's refusal while another connection holds the store locked."""
    return isinstance(exc, sqlite3.OperationalError) and str(exc) == "database is locked"


def _connect_readonly(path: Path) -> sqlite3.Connection:
    """A connection that reads the store at `path` (checked) and cannot write anywhere."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        size = 0
    try:
        if size == 0:  # no store yet, or an empty file: an empty store, in memory
            conn = _connect(path, ":memory:")
            _migrate(conn, path)
        else:
            conn = _connect(path, _readonly_uri(path))
            if _pragma(conn, "user_version") < READ_IN_PLACE_FROM:
                memory = _connect(path, ":memory:")
                conn.backup(memory)
                conn.close()
                conn = memory
                _migrate(conn, path)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA query_only = ON")
    except sqlite3.Error as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    return conn


def _readonly_uri(path: Path) -> str:
    """How SQLite opens `path` without writing anything beside it. In WAL mode even a
    read-only connection makes -wal and -shm files, and cannot open at all where it may
    not make them; with no -wal file the store itself holds every commit, so it is read
    as immutable. With one, a writer is at work or was killed, and only WAL mode reads
    its commits."""
    immutable = not Path(f"{path}-wal").exists()
    return path.resolve().as_uri() + ("?mode=ro&immutable=1" if immutable else "?mode=ro")


def _check_writable(path: Path) -> None:
    """Refuse a store this process cannot write before anything runs: SQLite opens such a
    file read-only without a word, and fails at the first commit. Trying is the honest
    test (os.access answers for the real user id, not the effective one): open each
    existing file of the store for writing, and make a file in its directory, where WAL
    mode makes and removes its -wal and -shm files."""
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            _check_regular(file, file.stat().st_mode)
            os.close(os.open(file, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC))
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise UsageError(f"cannot write to {file}: {exc.strerror}") from None
    try:
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as exc:
        raise UsageError(
            f"cannot write to {path}: cannot make files in {path.parent}: {exc.strerror}"
        ) from None


def _prepare(conn: sqlite3.Connection, *, checkpoint: bool) -> None:
    """Settings of every connection, made once the schema is current (a new file gets its
    schema and identity before WAL mode, so they land in the file itself). Foreign keys
    are enforced only from here: a migration may rebuild a table others refer to, and
    checks every reference itself before it commits."""
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA journal_mode = WAL").fetchall()  # every row read: none left open
    # Durable against a killed process, which is what matters here; only a power cut could
    # lose the last commits.
    conn.execute("PRAGMA synchronous = NORMAL")
    if checkpoint:
        # Put the new version into the file's own header, where the checks read it. Passive:
        # a checkpoint that waits for readers holds off every writer meanwhile, and so waits
        # out its whole timeout on a process that read the store before this one migrated
        # it and now waits to write. A store closed by its last connection is checkpointed
        # all the same.
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def _migrate(conn: sqlite3.Connection, path: Path) -> bool:
    """Bring the schema up to date in one transaction; True when anything changed."""
    if _pragma(conn, "user_version") == SCHEMA_VERSION:
        return False
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Read again under the write lock: another process may have migrated meanwhile.
        version = _pragma(conn, "user_version")
        if version > SCHEMA_VERSION:
            raise UsageError(_newer_message(path, version))
        for step in range(version + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[step]:
                if isinstance(statement, str):
                    conn.execute(statement)
                else:
                    statement(conn)
        if broken := conn.execute("PRAGMA foreign_key_check").fetchall():
            raise sqlite3.IntegrityError(f"a migration left {len(broken)} broken references")
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return version < SCHEMA_VERSION


def _pragma(conn: sqlite3.Connection, name: str) -> int:
    return conn.execute(f"PRAGMA {name}").fetchone()[0]


def _newer_message(path: Path, version: int) -> str:
    return (
        f"{path} was written by a newer cpulab (schema version {version}; "
        f"this one reads up to {SCHEMA_VERSION})"
    )


def _check_file(path: Path) -> None:
    """Refuse an existing file that is not a sound store of ours, without changing it."""
    try:
        # Looked at before it is opened: opening a named pipe waits for a writer.
        _check_regular(path, path.stat().st_mode)
        # Non-blocking all the same, in case a pipe has taken the file's place since.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with open(fd, "rb") as fh:
            opened = os.fstat(fd)
            _check_regular(path, opened.st_mode)
            head = fh.read(108)  # the 100-byte file header and page 1's b-tree header
            size = opened.st_size
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    if size == 0:
        return  # SQLite takes an empty file for an empty database
    if not head.startswith(SQLITE_MAGIC):
        raise UsageError(f"{path} is not a cpulab results store: it is not an SQLite database")
    if len(head) < 108:
        raise UsageError(f"{path} is damaged: it ends inside its own header")
    (raw_page_size,) = struct.unpack(">H", head[16:18])
    page_size = 65536 if raw_page_size == 1 else raw_page_size
    changes, pages = struct.unpack(">II", head[24:32])
    (valid_for,) = struct.unpack(">I", head[92:96])
    (version,) = struct.unpack(">i", head[60:64])
    (application_id,) = struct.unpack(">i", head[68:72])
    in_wal_mode = head[18] == 2
    # Until a checkpoint, committed changes live in the -wal file and the header lags behind.
    header_current = not Path(f"{path}-wal").exists()
    if application_id != APPLICATION_ID:
        schema_empty = head[100] == 0x0D and head[103:105] == b"\0\0"
        if application_id == 0 and schema_empty and header_current:
            return  # an SQLite file with nothing in it yet: ours to fill
        if application_id == 0:
            raise UsageError(f"{path} is an SQLite database that cpulab did not create")
        raise UsageError(
            f"{path} is an SQLite database of another application "
            f"(application_id {application_id & 0xFFFFFFFF:#010x})"
        )
    if page_size < 512 or page_size & (page_size - 1):
        raise UsageError(f"{path} is damaged: its header gives a page size of {raw_page_size}")
    if header_current:
        if version > SCHEMA_VERSION:
            raise UsageError(_newer_message(path, version))
        if changes == valid_for and size < pages * page_size:
            raise UsageError(
                f"{path} is damaged: it is cut short ({size} of {pages * page_size} bytes)"
            )
    # Reading a WAL-mode file read-only would still create -wal and -shm files; with the
    # header current there is nothing in a WAL to read, so read the file as immutable.
    _check_with_sqlite(
        path, immutable=in_wal_mode and header_current, every_page=size <= FULL_CHECK_BYTES
    )


def _sqlite_failure(path: Path, exc: sqlite3.DatabaseError) -> UsageError:
    """SQLite's refusal of `path` in one line: one it cannot read, or a damaged file."""
    if isinstance(exc, sqlite3.OperationalError):
        return UsageError(f"cannot read {path}: {exc}")
    return UsageError(f"{path} is damaged: {exc}")


def _check_regular(path: Path, mode: int) -> None:
    if not stat.S_ISREG(mode):
        raise UsageError(f"{path} is a {file_kind(mode)}, not a results file")


def _check_with_sqlite(path: Path, *, immutable: bool, every_page: bool) -> None:
    """SQLite's own checks: of every page where `every_page`, else of the schema alone."""
    uri = path.resolve().as_uri() + ("?mode=ro&immutable=1" if immutable else "?mode=ro")
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT)
        try:
            version = _pragma(conn, "user_version")
            if every_page:
                problems = [row[0] for row in conn.execute("PRAGMA quick_check")]
            else:
                conn.execute("SELECT count(*) FROM sqlite_master").fetchall()
                problems = ["ok"]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise _sqlite_failure(path, exc) from None
    if version > SCHEMA_VERSION:
        raise UsageError(_newer_message(path, version))
    if problems != ["ok"]:
        raise UsageError(f"{path} is damaged: {' '.join(problems[0].split())}")
