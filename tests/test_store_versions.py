"""Stored results outlive the code that wrote them: older files migrate, older rows are
upgraded as they are read, and a row that cannot be read is skipped and named.

tests/fixtures/store-v1.sqlite was written by cpulab 0.1.0 as released before stored
results carried a version (schema 1): a single run, a two-point sweep, a run on a data
file, one on the threading backend, one on a local Dask cluster and one with BLAS threads.
"""

import json
import os
import re
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from cpulab.engine.events import OPTIONAL, compact_json
from cpulab.engine.export import export_text
from cpulab.engine.presentation import REPORT_VERSION
from cpulab.engine.store import RESULT_VERSION, ResultStore, point_summary, sweep_analysis
from support.cli import cpulab
from support.store import ALPHA, model_of, result, sweep_left_running

FIXTURE = Path(__file__).parent / "fixtures" / "store-v1.sqlite"
EXPORTED_AT = re.compile(r'^  "exported_at": .*$', re.MULTILINE)
FORMATS = ("json", "csv", "markdown")


@pytest.fixture
def v1_store(tmp_path) -> Path:
    path = tmp_path / "store-v1.sqlite"
    shutil.copyfile(FIXTURE, path)
    return path


def test_a_store_written_by_the_release_opens_and_reads_as_today(v1_store):
    with ResultStore.open(v1_store) as store:
        points = store.points()
        sweeps = store.sweeps()
        software = store.software()
        machines = store.machines()
        assert store.unreadable == {}

    assert [p.result.task for p in points] == [
        "rf-train", "cv-eval", "cv-eval", "compare-classifiers", "digits-svc", "cv-eval",
        "cv-eval",
    ]  # fmt: skip
    assert [(s.status, s.n_points, s.error) for s in sweeps] == [("done", 2, None)]
    # Machine facts and software were one record; now the machine is the hardware alone.
    [machine] = machines
    assert "libraries" not in machine.facts and "python" not in machine.facts
    [install] = software
    assert install.facts["libraries"]["scikit-learn"]
    for stored in points:
        assert stored.software_id == install.id
        assert "libraries" not in stored.result.machine
        assert stored.result.software["libraries"] == install.facts["libraries"]
        assert stored.result.software["threadpools"] is not None
    # Version 1 named a cluster in options.dask and left the backend "loky".
    dask = next(p.result for p in points if "dask" in p.result.variant)
    assert dask.options["backend"] == "dask" and dask.options["cluster"] == "local:1"
    assert "dask" not in dask.options


def test_the_release_s_store_lists_and_exports_from_the_command_line(v1_store):
    listed = cpulab("history", "--db", str(v1_store))
    assert listed.returncode == 0, listed.stderr
    assert "7 stored results" in listed.stdout and "software #1: Python" in listed.stdout

    for fmt in ("json", "csv", "markdown"):
        exported = cpulab("export", "--format", fmt, "--db", str(v1_store))
        assert exported.returncode == 0, exported.stderr
        assert exported.stderr == ""
    document = json.loads(cpulab("export", "--db", str(v1_store)).stdout)
    assert document["version"] == 2
    assert len(document["runs"]) == 5 and len(document["sweeps"][0]["points"]) == 2
    assert document["software"][0]["facts"]["python"]


def test_new_points_join_the_migrated_machine_and_software(v1_store):
    with ResultStore.open(v1_store) as store:
        [old] = store.points()[:1]
        facts = old.result
        new_id = store.add_point(result(machine=facts.machine, software=facts.software))
        new = next(p for p in store.points() if p.id == new_id)
        assert (new.machine_id, new.software_id) == (old.machine_id, old.software_id)
        upgraded = {**facts.software, "libraries": {"scikit-learn": "99.0"}}
        upgrade = store.add_point(result(machine=facts.machine, software=upgraded))
        moved = next(p for p in store.points() if p.id == upgrade)
        # A scikit-learn upgrade: the same machine, other software.
        assert moved.machine_id == old.machine_id and moved.software_id != old.software_id
    with closing(sqlite3.connect(v1_store)) as conn:
        versions = dict(conn.execute("SELECT id, result_version FROM points").fetchall())
    assert versions[old.id] == 1 and versions[new_id] == RESULT_VERSION


def test_machines_that_differed_only_by_software_become_one(v1_store):
    with closing(sqlite3.connect(v1_store)) as conn:
        facts = json.loads(conn.execute("SELECT facts FROM machines").fetchone()[0])
        other = {**facts, "libraries": {**facts["libraries"], "numpy": "0.1"}}
        conn.execute(
            "INSERT INTO machines (fingerprint, hostname, cpu_model, logical_cores,"
            " available_cores, facts) VALUES ('older', ?, ?, 2, 2, ?)",
            (facts["hostname"], facts["cpu_model"], json.dumps(other)),
        )
        conn.execute("UPDATE points SET machine_id = 2 WHERE id = 7")
        conn.commit()

    with ResultStore.open(v1_store) as store:
        assert len(store.machines()) == 1
        assert {p.machine_id for p in store.points()} == {store.machines()[0].id}


def corrupt_point(path: Path, point_id: int, text: str) -> None:
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("UPDATE points SET result = ? WHERE id = ?", (text, point_id))
        conn.commit()


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        "[1, 2]",
        '{"event": "result", "task": "rf-train"}',
        '{"event": "x"}',
        "[" * 100_000,  # nested past what the decoder allows
    ],
)
def test_an_unreadable_row_is_skipped_and_named(tmp_path, text):
    path = tmp_path / "results.sqlite"
    with ResultStore.open(path) as store:
        ids = [store.add_point(result(train=t)) for t in (1, 2, 4)]
    corrupt_point(path, ids[1], text)

    with ResultStore.open(path) as store:
        assert [p.id for p in store.points()] == [ids[0], ids[2]]
        assert list(store.unreadable) == [ids[1]]
        assert store.unreadable[ids[1]].startswith(f"point {ids[1]} cannot be read: ")
        for fmt in ("json", "csv", "markdown"):
            export_text(fmt, store)  # exports go on without it

    listed = cpulab("history", "--db", str(path))
    assert listed.returncode == 0
    assert "2 stored results" in listed.stdout
    assert f"point {ids[1]} cannot be read" in listed.stderr
    assert listed.stderr.count("\n") == 1


def test_a_row_from_a_newer_cpulab_is_skipped_not_misread(tmp_path):
    path = tmp_path / "results.sqlite"
    with ResultStore.open(path) as store:
        point = store.add_point(result())
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(
            "UPDATE points SET result_version = ? WHERE id = ?", (RESULT_VERSION + 1, point)
        )
        conn.commit()

    with ResultStore.open(path) as store:
        assert store.points() == []
        assert "newer cpulab" in store.unreadable[point]


def test_the_release_s_store_reads_a_page_at_a_time_read_only(v1_store):
    before = v1_store.read_bytes()
    with ResultStore.open(v1_store, readonly=True) as store:
        every = store.points()
        newest = store.points(newest_first=True, limit=3)
        assert [p.id for p in newest] == [p.id for p in every[::-1][:3]]
        assert store.count_points(task="cv-eval") == 4
        assert [p.id for p in store.points(single_runs=True)] == [
            p.id for p in every if p.sweep_id is None
        ]
        [sweep] = store.sweeps(ids=[p.sweep_id for p in every if p.sweep_id])
        assert sweep.n_points == 2
        [machine] = store.machines()
        assert store.host_machine_ids(machine.hostname, machine.cpu_model) == [machine.id]
        assert store.unreadable == {}
    assert v1_store.read_bytes() == before  # migrated in memory, the file untouched


def test_upgrading_keeps_for_exports_what_a_new_store_keeps(tmp_path):
    # The small store of every case an export must get right (tests/test_history_export.py):
    # three of its rows unreadable, one with a NaN where a number must be (written by a
    # writer that allowed it; rewritten, it would read back as null, and fail).
    path = tmp_path / "store-export.sqlite"
    shutil.copyfile(FIXTURE.with_name("store-export.sqlite"), path)
    with ResultStore.open(path) as store:
        readable = {p.id: p.result for p in store.points()} | {
            p.id: p.result for p in store.points(deleted=True)
        }
        sweeps = store.sweeps()
    with closing(sqlite3.connect(path)) as conn:
        summaries = dict(conn.execute("SELECT id, summary FROM points").fetchall())
        texts = dict(conn.execute("SELECT id, result FROM points").fetchall())
        analyses = dict(conn.execute("SELECT id, analysis FROM sweeps").fetchall())
    unreadable = set(summaries) - set(readable)
    with_nan = {i for i in readable if "NaN" in texts[i]}
    assert len(unreadable) == 3 and len(with_nan) == 1
    assert {i for i, s in summaries.items() if s is None} == unreadable | with_nan
    for point_id, text in summaries.items():
        if text is not None:
            assert text == point_summary(readable[point_id])
    with ResultStore.open(path, readonly=True) as store:
        for sweep in sweeps:
            results = [p.result for p in store.points(sweep_id=sweep.id)]
            expected = None if sweep.status == "running" else sweep_analysis(results)
            assert analyses[sweep.id] == expected


def before_schema_8(conn: sqlite3.Connection) -> None:
    """Undo what schema 8 made: the process that runs each sweep."""
    conn.execute("DROP INDEX sweeps_running")
    conn.execute("ALTER TABLE sweeps DROP COLUMN owner")


def before_schema_7(conn: sqlite3.Connection) -> None:
    """Undo what schemas 7 and 8 made: each point's CSV cells, each sweep's baseline median
    and the index exports read."""
    before_schema_8(conn)
    for column in ("csv_before", "csv_after"):
        conn.execute(f"ALTER TABLE point_facts DROP COLUMN {column}")
    for trigger in ("sweep_baseline_on_insert", "sweep_baseline_on_update"):
        conn.execute(f"DROP TRIGGER {trigger}")
    conn.execute("ALTER TABLE sweeps DROP COLUMN baseline_median")
    conn.execute("DROP INDEX points_for_exports")
    conn.execute("CREATE INDEX points_live_by_sweep ON points (sweep_id, deleted_at)")


def before_schema_6(conn: sqlite3.Connection) -> None:
    """Undo what schemas 6 and 7 made but the sweeps' report columns (which each test
    drops with the others of the schema it stands for)."""
    before_schema_7(conn)
    for trigger in ("point_facts_on_insert", "point_facts_on_update", "sweep_texts_on_insert",
                    "sweep_texts_on_update"):  # fmt: skip
        conn.execute(f"DROP TRIGGER {trigger}")
    conn.execute("DROP TABLE point_facts")
    conn.execute("DROP INDEX points_live_by_sweep")
    conn.execute("CREATE INDEX points_by_sweep ON points (sweep_id)")


def test_a_store_of_the_last_schema_exports_alike_migrated_on_disk_or_in_memory(tmp_path):
    # Schema 4 as its writer left it: every result's text with an empty memory, timeline
    # and conditions in it (Event.to_json wrote every field), no summaries, no analyses.
    path = tmp_path / "v4.sqlite"
    with ResultStore.open(path) as store:
        sweep = store.start_sweep("rf-train", "small", "train", [1, 2], 3, 1, ALPHA)
        for train in (1, 2):
            store.add_point(result(train), sweep)
        store.finish_sweep(sweep, "done", model=model_of(store, sweep))
        store.add_point(result(2, score=float("nan")))
        store.add_point(result(1, memory={"runner_uss": 1 << 27}))
    with closing(sqlite3.connect(path)) as conn, conn:
        for point_id, text in conn.execute("SELECT id, result FROM points").fetchall():
            record = json.loads(text)
            rest = {key: value for key, value in record.items() if key not in OPTIONAL}
            empty = {"memory": {}, "timeline": None, "conditions": {}}
            old = {**rest, **{key: record.get(key, empty[key]) for key in OPTIONAL}}
            conn.execute("UPDATE points SET result = ? WHERE id = ?", (compact_json(old), point_id))
        before_schema_6(conn)
        conn.execute("ALTER TABLE points DROP COLUMN summary")
        for column in ("analysis", "report", "report_version"):
            conn.execute(f"ALTER TABLE sweeps DROP COLUMN {column}")
        conn.execute("PRAGMA user_version = 4")
    in_memory = tmp_path / "read-only.sqlite"
    shutil.copyfile(path, in_memory)
    ResultStore.open(path).close()  # migrated on disk: the rows as they are kept now
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT COUNT(*) FROM points WHERE summary IS NULL").fetchone() == (0,)
        assert conn.execute("SELECT COUNT(*) FROM point_facts").fetchone() == (4,)
        (kept_report,) = conn.execute("SELECT report FROM sweeps").fetchone()
        assert kept_report.startswith("| cores | split |")
        assert '"timeline":null' not in "".join(
            r for (r,) in conn.execute("SELECT result FROM points")
        )
    exports = []
    for each in (path, in_memory):
        with ResultStore.open(each, readonly=True) as store:
            exports.append({fmt: export_text(fmt, store) for fmt in ("json", "csv", "markdown")})
    kept, computed = exports
    for fmt, text in kept.items():
        assert EXPORTED_AT.sub("", text) == EXPORTED_AT.sub("", computed[fmt]), fmt


def test_a_damaged_text_in_a_schema_5_store_leaves_its_section_to_the_export(tmp_path):
    # The first point of a sweep damaged on disk, and another sweep's stored analysis: the
    # store still opens and migrates; those sweeps' sections are made by their exports.
    path = tmp_path / "v5.sqlite"
    with ResultStore.open(path) as store:
        sweeps = []
        for _ in range(3):
            sweep = store.start_sweep("rf-train", "small", "train", [1, 2], 3, 1, ALPHA)
            for train in (1, 2):
                store.add_point(result(train), sweep)
            store.finish_sweep(sweep, "done", model=model_of(store, sweep))
            sweeps.append(sweep)
    with closing(sqlite3.connect(path)) as conn, conn:
        before_schema_6(conn)
        for column in ("report", "report_version"):
            conn.execute(f"ALTER TABLE sweeps DROP COLUMN {column}")
        first = conn.execute("SELECT MIN(id) FROM points WHERE sweep_id = ?", (sweeps[0],))
        conn.execute("UPDATE points SET result = '{' WHERE id = ?", first.fetchone())
        conn.execute("UPDATE sweeps SET analysis = '{' WHERE id = ?", (sweeps[1],))
        conn.execute("PRAGMA user_version = 5")
    ResultStore.open(path).close()
    with closing(sqlite3.connect(path)) as conn:
        kept = dict(conn.execute("SELECT id, report IS NOT NULL FROM sweeps").fetchall())
    assert kept == {sweeps[0]: 0, sweeps[1]: 0, sweeps[2]: 1}


def test_a_schema_6_store_keeps_csv_cells_and_todays_sections_as_it_migrates(tmp_path):
    path = tmp_path / "v6.sqlite"
    with ResultStore.open(path) as store:
        sweep = store.start_sweep("rf-train", "small", "train", [1, 2], 3, 1, ALPHA)
        for train in (1, 2):
            store.add_point(result(train, fit_times=[0.123456789, 0.2, 0.3]), sweep)
        store.finish_sweep(sweep, "done", model=model_of(store, sweep))
        store.add_point(result(2, score=float("nan"), flags=["noisy", "a, b"]))
        written = {fmt: export_text(fmt, store) for fmt in ("csv", "markdown")}
    cells = "SELECT point_id, csv_before, csv_after FROM point_facts"
    sections = "SELECT report, report_version, baseline_median FROM sweeps"
    with closing(sqlite3.connect(path)) as conn, conn:
        kept, reports = conn.execute(cells).fetchall(), conn.execute(sections).fetchall()
        before_schema_7(conn)
        # Its sections as an older presentation made them, which exports do not read.
        conn.execute("UPDATE sweeps SET report = 'older', report_version = 3")
        conn.execute("PRAGMA user_version = 6")
    with ResultStore.open(path, readonly=True) as store:  # brought up to date in memory
        decoded = []
        store.decode = lambda row: decoded.append(row) or ResultStore.decode(store, row)
        assert store.in_memory and export_text("csv", store) == written["csv"]
        assert decoded == []  # its rows' kept facts, not their texts
    with ResultStore.open(path) as store:
        assert {fmt: export_text(fmt, store) for fmt in written} == written
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute(cells).fetchall() == kept
        assert conn.execute(sections).fetchall() == reports
    assert len(kept) == 3 and all(before and after for _, before, after in kept)
    assert reports[0][0].startswith("| cores | split |") and reports[0][1] == REPORT_VERSION
    assert reports[0][2] == 0.2  # the median of the 1 x 1's runs


def test_a_running_sweep_of_a_schema_7_store_stays_running(tmp_path):
    # Its process has ended, but which it was was not kept: it cannot be found gone. A
    # reader reads the store in place, not in a copy in memory, and exports what a writer
    # would. A sweep started after the migration is known by its process.
    path = tmp_path / "v7.sqlite"
    with ResultStore.open(path) as store:
        store.add_point(result(2))
    sweep_left_running(path)
    with closing(sqlite3.connect(path)) as conn, conn:
        before_schema_8(conn)
        conn.execute("PRAGMA user_version = 7")
    exports = []
    for readonly in (True, False):
        with ResultStore.open(path, readonly=readonly) as store:
            assert [s.status for s in store.sweeps()] == ["running"]
            assert not store.in_memory
            exports.append([EXPORTED_AT.sub("", export_text(fmt, store)) for fmt in FORMATS])
    assert exports[0] == exports[1]
    with ResultStore.open(path) as store:
        store.start_sweep("rf-train", "small", "train", [1, 2], 3, 1, ALPHA)
    with closing(sqlite3.connect(path)) as conn:
        owners = [owner for (owner,) in conn.execute("SELECT owner FROM sweeps ORDER BY id")]
        statuses = [status for (status,) in conn.execute("SELECT status FROM sweeps")]
    assert owners[0] is None and json.loads(owners[1])["pid"] == os.getpid()
    assert statuses == ["running", "running"]
