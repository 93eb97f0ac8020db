"""The results history: round trips, sweeps, filters, migrations, refusals and crashes."""

import itertools
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from contextlib import closing
from pathlib import Path

import platformdirs
import pytest

from cpulab.engine import store as store_module
from cpulab.engine.errors import UsageError
from cpulab.engine.store import APPLICATION_ID, SCHEMA_VERSION, ResultStore, default_path
from support.store import (
    ALPHA,
    ALPHA_SOFTWARE,
    BETA,
    corrupted_store,
    damage_a_points_page,
    digest,
    foreign_application,
    foreign_in_wal_mode,
    foreign_with_a_table,
    newer_store,
    random_bytes,
    real_store,
    result,
    store_cut_mid_page,
    sweep_left_running,
    text_file,
    truncated_store,
)


@pytest.fixture
def clock():
    ticks = itertools.count(1000)
    return lambda: float(next(ticks))


@pytest.fixture
def db(tmp_path, clock):
    with ResultStore.open(tmp_path / "results.sqlite", clock=clock) as store:
        yield store


def query(path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(sql).fetchall()


def query_write(path, sql: str, params: tuple = ()) -> None:
    """A write of another process's, committed."""
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(sql, params)


def header_of(path) -> tuple[int, int]:
    return query(path, "PRAGMA application_id")[0][0], query(path, "PRAGMA user_version")[0][0]


def tables_in(path) -> set[str]:
    return {row[0] for row in query(path, "SELECT name FROM sqlite_master")}


# Round trips and the API


def test_a_result_round_trips(db):
    stored = result(2, 4)
    point_id = db.add_point(stored)
    [point] = db.points()
    assert (point.id, point.sweep_id, point.created_at) == (point_id, None, 1000.0)
    assert point.result == stored
    [machine] = db.machines()
    assert point.machine_id == machine.id
    assert machine.facts == ALPHA
    [software] = db.software()
    assert point.software_id == software.id
    assert software.facts == {k: ALPHA_SOFTWARE[k] for k in ("python", "platform", "libraries")}


def test_indexed_columns_mirror_the_result(db):
    db.add_point(result(2, 4))
    columns = query(db.path, "SELECT task, scale, train, eval, fit_time FROM points")
    assert columns == [("rf-train", "small", 2, 4, 0.31)]


def test_sweep_lifecycle(db):
    sweep_id = db.start_sweep("rf-train", "small", "train", [1, 2, 4], 3, 1, ALPHA)
    [sweep] = db.sweeps()
    assert (sweep.id, sweep.status, sweep.cores, sweep.repeats, sweep.warmup) == (
        sweep_id,
        "running",
        (1, 2, 4),
        3,
        1,
    )
    assert (sweep.strategy, sweep.started_at, sweep.finished_at, sweep.n_points) == (
        "train",
        1000.0,
        None,
        0,
    )
    ids = [db.add_point(result(t, 1), sweep_id) for t in (1, 2, 4)]
    db.add_point(result(8, 1))  # a single run, outside the sweep
    db.finish_sweep(sweep_id, "done")
    [sweep] = db.sweeps()
    assert (sweep.status, sweep.finished_at, sweep.n_points) == ("done", 1005.0, 3)
    assert [p.id for p in db.points(sweep_id=sweep_id)] == ids
    assert [p.sweep_id for p in db.points()] == [sweep_id] * 3 + [None]


def test_a_sweep_is_on_the_machine_of_its_first_point(db):
    sweep_id = db.start_sweep("rf-train", "small", "train", [1, 2], 1, 0, ALPHA)
    db.add_point(result(1, 1), sweep_id)
    [machine] = db.machines()  # the parent and the runner see the same hardware
    assert db.sweeps()[0].machine_id == machine.id


def test_a_sweep_takes_the_machine_its_runner_saw(db):
    # The runner's view is the measured one: a limit set for it alone (a cgroup, an
    # affinity) makes it another machine than the parent's.
    limited = {**ALPHA, "cores": {**ALPHA["cores"], "available": 4, "affinity": [0, 1, 2, 3]}}
    sweep_id = db.start_sweep("rf-train", "small", "train", [1, 2], 1, 0, ALPHA)
    parent_only = db.sweeps()[0].machine_id
    db.add_point(result(1, 1, machine=limited), sweep_id)
    [machine] = db.machines()  # the parent's record is gone, nothing refers to it
    assert machine.id != parent_only and machine.facts == limited
    assert db.sweeps()[0].machine_id == machine.id


def test_a_sweep_with_no_points_keeps_the_facts_it_started_with(db):
    sweep_id = db.start_sweep("rf-train", "small", "train", [1, 2], 1, 0, ALPHA)
    db.finish_sweep(sweep_id, "cancelled")
    [machine] = db.machines()
    assert (db.sweeps()[0].status, machine.facts) == ("cancelled", ALPHA)


def test_sweep_misuse_is_a_programming_error(db):
    sweep_id = db.start_sweep("rf-train", "small", "train", [1, 2], 1, 0, ALPHA)
    with pytest.raises(ValueError, match="no sweep"):
        db.add_point(result(), sweep_id + 1)
    with pytest.raises(ValueError, match="rf-train at small"):
        db.add_point(result(task="cv-eval"), sweep_id)
    with pytest.raises(ValueError):
        db.finish_sweep(sweep_id, "running")
    with pytest.raises(ValueError):
        db.finish_sweep(sweep_id + 1, "done")
    db.finish_sweep(sweep_id, "failed")
    with pytest.raises(ValueError, match="failed"):
        db.add_point(result(), sweep_id)
    assert db.points() == []  # nothing half-written


def test_new_libraries_are_the_same_machine_with_other_software(db):
    db.add_point(result())
    db.add_point(result(2, 1))
    assert (len(db.machines()), len(db.software())) == (1, 1)
    upgraded = {**ALPHA_SOFTWARE, "libraries": {"scikit-learn": "1.6.0", "numpy": "2.0.0"}}
    db.add_point(result(software=upgraded))
    assert (len(db.machines()), len(db.software())) == (1, 2)
    first, _, upgrade = db.points()
    assert first.machine_id == upgrade.machine_id and first.software_id != upgrade.software_id
    assert "scikit-learn 1.6.0" in db.software()[1].label


def test_filters(db):
    db.add_point(result(1, 1))
    db.add_point(result(2, 1, scale="large"))
    db.add_point(result(1, 2, task="cv-eval", machine=BETA))
    sweep_id = db.start_sweep("cv-eval", "small", "eval", [2, 4], 1, 0, BETA)
    db.add_point(result(1, 4, task="cv-eval", machine=BETA), sweep_id)
    alpha, beta = db.machines()

    def splits(**filters):
        return [(p.result.train, p.result.eval) for p in db.points(**filters)]

    assert splits(task="rf-train") == [(1, 1), (2, 1)]
    assert splits(task="rf-train", scale="large") == [(2, 1)]
    assert splits(machine="epyc") == [(1, 1), (2, 1)]
    assert splits(machine="BETA") == [(1, 2), (1, 4)]
    assert splits(machine=beta.id) == [(1, 2), (1, 4)]
    assert splits(machine="core i7", task="rf-train") == []
    assert splits(machine="nowhere") == []
    assert splits(sweep_id=sweep_id) == [(1, 4)]
    assert [s.id for s in db.sweeps(task="cv-eval", machine="laptop")] == [sweep_id]
    assert db.sweeps(machine=alpha.id) == []
    assert db.sweeps(task="rf-train") == []


def test_machine_labels(db):
    db.add_point(result())
    db.add_point(result(machine=BETA))
    db.add_point(result(machine={}))
    assert [m.label for m in db.machines()] == [
        "alpha · AMD EPYC 7763 · 16 cores",
        "beta-laptop · Intel Core i7 · 4 of 8 cores",
        "unknown host · unknown CPU",
    ]


def test_a_second_connection_and_another_thread_see_each_commit(tmp_path):
    path = tmp_path / "shared.sqlite"
    with ResultStore.open(path) as writer, ResultStore.open(path) as reader:
        writer.add_point(result())
        assert len(reader.points()) == 1
        seen = []
        thread = threading.Thread(target=lambda: seen.extend(reader.points()))
        thread.start()
        thread.join()
        assert len(seen) == 1


# Reading a large store: pages, batches, counts


def test_newest_first_pages_by_limit_and_before(db):
    ids = [db.add_point(result(train)) for train in range(1, 8)]
    newest = db.points(newest_first=True, limit=3)
    assert [p.id for p in newest] == ids[:-4:-1]
    following = db.points(newest_first=True, limit=3, before=newest[-1].id)
    assert [p.id for p in following] == ids[-4:-7:-1]
    assert [p.id for p in db.points(newest_first=True, before=ids[1])] == [ids[0]]
    assert [p.id for p in db.points(before=ids[3])] == ids[:3]  # oldest first, as ever
    assert db.points(limit=0) == []


def test_filters_apply_before_the_limit(db):
    wanted = [db.add_point(result(t, task="cv-eval", machine=BETA)) for t in (1, 2)]
    for t in range(1, 6):  # newer results of other tasks and machines
        db.add_point(result(t))
        db.add_point(result(t, task="cv-eval"))
    found = db.points(task="cv-eval", machine="beta", newest_first=True, limit=5)
    assert [p.id for p in found] == wanted[::-1]
    assert db.count_points(task="cv-eval", machine="beta") == 2
    assert db.count_points(task="cv-eval") == 7
    assert db.count_points() == 12
    assert db.count_points(before=wanted[1]) == 1
    assert db.count_points(machine="nowhere") == 0


def test_single_runs_and_machine_ids_filter_in_the_store(db):
    sweep_id = db.start_sweep("rf-train", "small", "train", [1, 2], 1, 0, ALPHA)
    in_sweep = db.add_point(result(1), sweep_id)
    alone = db.add_point(result(2))
    on_beta = db.add_point(result(4, machine=BETA))
    assert [p.id for p in db.points(single_runs=True)] == [alone, on_beta]
    [alpha] = db.host_machine_ids("alpha", "AMD EPYC 7763")
    assert db.host_machine_ids("alpha", "another CPU") == []
    assert [p.id for p in db.points(machine_ids=[alpha])] == [in_sweep, alone]
    assert db.points(machine_ids=[]) == []


def test_many_points_are_read_a_batch_at_a_time(db, monkeypatch):
    monkeypatch.setattr(store_module, "READ_BATCH", 3)
    ids = [db.add_point(result(t, task="cv-eval" if t % 2 else "rf-train")) for t in range(1, 12)]
    fetched = []
    read = db._read
    monkeypatch.setattr(db, "_read", lambda *a: fetched.append(len(rows := read(*a))) or rows)
    assert [p.id for p in db.iter_points()] == ids
    assert max(fetched) == 3  # never the whole table at once
    assert [p.id for p in db.iter_points(newest_first=True)] == ids[::-1]
    assert [p.id for p in db.points(task="cv-eval", newest_first=True, limit=4)] == ids[::-2][:4]
    assert [p.id for p in db.points(task="rf-train")] == ids[1::2]


def test_a_limit_counts_readable_points_and_names_each_unreadable_once(db, monkeypatch):
    monkeypatch.setattr(store_module, "READ_BATCH", 2)
    ids = [db.add_point(result(t)) for t in range(1, 7)]
    with closing(sqlite3.connect(db.path)) as conn:
        conn.execute("UPDATE points SET result = '{' WHERE id IN (?, ?)", (ids[5], ids[4]))
        conn.commit()
    assert [p.id for p in db.points(newest_first=True, limit=3)] == [ids[3], ids[2], ids[1]]
    assert [p.id for p in db.points(newest_first=True, limit=3)] == [ids[3], ids[2], ids[1]]
    assert sorted(db.unreadable) == [ids[4], ids[5]]
    assert db.count_points() == 6  # counted, though not readable


def test_sweeps_by_id_in_batches(db, monkeypatch):
    monkeypatch.setattr(store_module, "READ_BATCH", 2)
    ids = [db.start_sweep("rf-train", "small", "train", [1], 1, 0, ALPHA) for _ in range(5)]
    assert [s.id for s in db.sweeps()] == ids
    assert [s.id for s in db.sweeps(ids={ids[4], ids[0], ids[2], 999})] == ids[::2]
    assert db.sweeps(ids=[]) == []
    assert [s.id for s in db.iter_sweeps(task="rf-train", ids=ids[3:])] == ids[3:]


def test_a_snapshot_reads_one_moment_while_another_process_writes(tmp_path):
    path = tmp_path / "results.sqlite"
    with ResultStore.open(path) as writer:
        writer.add_point(result())
        with ResultStore.open(path, readonly=True) as reader:
            with reader.snapshot():
                assert reader.count_points() == 1
                writer.add_point(result(2))
                assert reader.count_points() == 1 and len(reader.points()) == 1
            assert reader.count_points() == 2


def test_a_sweep_whose_process_ended_without_finishing_it_reads_as_interrupted(tmp_path):
    path = tmp_path / "results.sqlite"
    with ResultStore.open(path) as store:  # a sweep of this process, alive, stays running
        mine = store.start_sweep("rf-train", "small", "train", [1, 2], 3, 1, ALPHA)
    sweep_left_running(path)
    before = digest(path)
    with ResultStore.open(path, readonly=True) as store:
        read = [(s.status, s.error) for s in store.sweeps()]
    assert digest(path) == before  # a reader says so, and writes nothing
    assert read == [("running", None), ("interrupted", store_module.OWNER_GONE)]
    assert query(path, "SELECT status FROM sweeps ORDER BY id") == [("running",), ("running",)]
    with ResultStore.open(path) as store:  # the first writer keeps it so, analysed
        (running, ended) = store.sweeps()
        assert [(s.status, s.error) for s in (running, ended)] == read
        assert ended.analysed and ended.n_points == 1 and ended.finished_at is None
        store.finish_sweep(mine, "done")
    assert query(path, "SELECT status FROM sweeps ORDER BY id") == [("done",), ("interrupted",)]


def test_a_sweep_of_this_process_taken_for_gone_runs_on(tmp_path):
    # Another process could not see this one (say /proc hid it from that user) and stored
    # its sweep as ended: the sweep's next point puts it back, to run and end as it does.
    path = tmp_path / "results.sqlite"
    with ResultStore.open(path) as store:
        sweep = store.start_sweep("rf-train", "small", "train", [1, 2], 3, 1, ALPHA)
        store.add_point(result(1), sweep)
        others = sweep_left_running(path)
        query_write(path, "UPDATE sweeps SET status = 'interrupted', error = ?",
                    (store_module.OWNER_GONE,))  # fmt: skip
        store.add_point(result(2), sweep)
        assert [(s.status, s.analysed) for s in store.sweeps()] == [
            ("running", False), ("interrupted", False)
        ]  # fmt: skip
        with pytest.raises(ValueError, match="is interrupted, no longer running"):
            store.add_point(result(2), others)  # that one's process is gone
        store.finish_sweep(sweep, "done")
        assert store.sweeps()[0].n_points == 2


def test_a_writer_opens_at_once_where_another_holds_the_lock_it_would_end_a_sweep_with(
    tmp_path, monkeypatch
):
    path = tmp_path / "results.sqlite"
    sweep_left_running(path)
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT", 60.0)
    opened: list[ResultStore] = []
    with closing(sqlite3.connect(path, isolation_level=None, check_same_thread=False)) as other:
        other.execute("BEGIN IMMEDIATE")  # another process's long write
        opening = threading.Thread(target=lambda: opened.append(ResultStore.open(path)))
        opening.start()
        opening.join(timeout=20)
        waited = opening.is_alive()
        other.execute("ROLLBACK")
        opening.join()
    assert not waited, "the opening waited for the lock"
    with opened[0] as store:
        assert store.sweeps()[0].status == "interrupted"  # as read: stored by a later one
    assert query(path, "SELECT status FROM sweeps") == [("running",)]
    ResultStore.open(path).close()
    assert query(path, "SELECT status FROM sweeps") == [("interrupted",)]


# Files, migrations and the default path


def test_a_new_store_is_marked_as_ours_in_wal_mode(tmp_path):
    path = tmp_path / "deep" / "er" / "results.sqlite"
    ResultStore.open(path).close()
    assert os.listdir(path.parent) == ["results.sqlite"]  # a clean close leaves no side files
    assert path.read_bytes()[68:72] == b"CPUL"
    assert header_of(path) == (APPLICATION_ID, SCHEMA_VERSION)
    assert query(path, "PRAGMA journal_mode") == [("wal",)]
    assert {"machines", "sweeps", "points"} <= tables_in(path)


def test_an_empty_file_becomes_a_store(tmp_path):
    path = tmp_path / "empty.sqlite"
    path.touch()
    ResultStore.open(path).close()
    assert header_of(path) == (APPLICATION_ID, SCHEMA_VERSION)


def test_an_sqlite_file_with_nothing_in_it_is_adopted(tmp_path):
    path = tmp_path / "blank.sqlite"
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("CREATE TABLE t (x)")
        conn.execute("DROP TABLE t")
    with ResultStore.open(path) as store:
        store.add_point(result())
    assert header_of(path) == (APPLICATION_ID, SCHEMA_VERSION)


def test_reopening_changes_nothing(tmp_path, clock):
    path = tmp_path / "results.sqlite"
    with ResultStore.open(path, clock=clock) as store:
        store.add_point(result())
    schema = query(path, "SELECT sql FROM sqlite_master")
    before = digest(path)
    for _ in range(2):
        with ResultStore.open(path) as store:
            assert len(store.points()) == 1
    assert digest(path) == before
    assert query(path, "SELECT sql FROM sqlite_master") == schema


def a_store_a_step_behind(tmp_path, monkeypatch) -> tuple[Path, int]:
    """A store of one point, and a schema step after its version: the store takes it as
    it next opens."""
    path = tmp_path / "results.sqlite"
    with ResultStore.open(path) as store:
        store.add_point(result())
    later = SCHEMA_VERSION + 1
    migrations = {**store_module.MIGRATIONS, later: ("ALTER TABLE points ADD COLUMN note TEXT",)}
    monkeypatch.setattr(store_module, "MIGRATIONS", migrations)
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", later)
    return path, later


def test_a_later_migration_applies_on_reopen(tmp_path, monkeypatch):
    path, later = a_store_a_step_behind(tmp_path, monkeypatch)
    with ResultStore.open(path) as store:
        assert len(store.points()) == 1
    assert header_of(path) == (APPLICATION_ID, later)
    assert path.read_bytes()[60:64] == later.to_bytes(4, "big")  # checkpointed into the file
    assert "note" in [row[1] for row in query(path, "PRAGMA table_info(points)")]


@pytest.mark.parametrize("existing", [False, True])
def test_migrations_are_all_or_nothing(tmp_path, monkeypatch, existing):
    path = tmp_path / "results.sqlite"
    if existing:
        ResultStore.open(path).close()
    migrations = {
        **store_module.MIGRATIONS,
        SCHEMA_VERSION + 1: ("CREATE TABLE notes (x)",),
        SCHEMA_VERSION + 2: ("CREATE TABLE broken (",),
    }
    monkeypatch.setattr(store_module, "MIGRATIONS", migrations)
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", SCHEMA_VERSION + 2)
    with pytest.raises(UsageError, match="cannot open"):
        ResultStore.open(path)
    tables = tables_in(path)
    assert "notes" not in tables
    assert ("points" in tables) is existing
    assert header_of(path)[1] == (SCHEMA_VERSION if existing else 0)


# Opened by several processes at once: the app, a sweep and an export may each open a store
# that is not made yet, or one an older cpulab made.


def test_a_store_opens_while_another_process_commits_to_it_before_wal_mode(tmp_path, monkeypatch):
    # Switching to WAL mode while another connection commits would deadlock, so SQLite
    # refuses the switch at once, without waiting: the opening is tried again.
    path = tmp_path / "results.sqlite"
    ResultStore.open(path).close()
    query(path, "PRAGMA journal_mode = DELETE")  # as a new store is, before its first opening ends
    refused = threading.Event()

    def prepare(conn, **kwargs):
        try:
            return prepare_once(conn, **kwargs)
        except sqlite3.OperationalError:
            refused.set()
            raise

    prepare_once = store_module._prepare
    monkeypatch.setattr(store_module, "_prepare", prepare)
    opened: list[ResultStore] = []
    with closing(sqlite3.connect(path, isolation_level=None, check_same_thread=False)) as other:
        other.execute("BEGIN IMMEDIATE")
        other.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")  # a write, as a migration's
        opening = threading.Thread(target=lambda: opened.append(ResultStore.open(path)))
        opening.start()
        assert refused.wait(timeout=30)
        other.execute("COMMIT")
        opening.join(timeout=30)
    assert opened, "the opening failed"
    opened[0].add_point(result())
    opened[0].close()
    assert query(path, "PRAGMA journal_mode") == [("wal",)]


def test_an_opening_waits_out_another_process_bringing_the_store_up_to_date(tmp_path, monkeypatch):
    # An upgrade of a large store holds the write lock for longer than a write is waited
    # for (100,000 points of schema 6: 11 to 13 s); one opening alongside waits it out.
    path, later = a_store_a_step_behind(tmp_path, monkeypatch)
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT", 0.2)
    opened: list[ResultStore] = []
    with closing(sqlite3.connect(path, isolation_level=None, check_same_thread=False)) as other:
        other.execute("BEGIN IMMEDIATE")  # the other process's upgrade, under way
        opening = threading.Thread(target=lambda: opened.append(ResultStore.open(path)))
        opening.start()
        opening.join(timeout=2.0)  # ten times the wait for a write
        other.execute("ROLLBACK")
        opening.join(timeout=60)
    assert opened, "the opening gave up"
    with opened[0] as store:
        assert len(store.points()) == 1
    assert header_of(path) == (APPLICATION_ID, later)


def test_a_migration_does_not_wait_for_a_reader_of_the_store_as_it_was(tmp_path, monkeypatch):
    # Its checkpoint must not wait for readers: one that waits holds off every writer, and
    # a reader may itself be a process waiting to write, as they all are on opening.
    path, later = a_store_a_step_behind(tmp_path, monkeypatch)
    opened: list[ResultStore] = []
    with closing(sqlite3.connect(path, isolation_level=None, check_same_thread=False)) as reader:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM points").fetchall()  # holds the store as it was
        opening = threading.Thread(target=lambda: opened.append(ResultStore.open(path)))
        opening.start()
        opening.join(timeout=store_module.BUSY_TIMEOUT / 2)
        waited = opening.is_alive()
        reader.execute("COMMIT")
        opening.join()
    assert not waited, "the migration waited for the reader"
    with opened[0] as store:
        assert len(store.points()) == 1
    assert header_of(path) == (APPLICATION_ID, later)


def test_default_path_is_in_the_user_data_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("CPULAB_DB", raising=False)
    monkeypatch.setattr(platformdirs, "user_data_dir", lambda *a, **k: str(tmp_path / "data"))
    assert default_path() == tmp_path / "data" / "results.sqlite"
    with ResultStore.open() as store:
        assert store.path == tmp_path / "data" / "results.sqlite"
    assert store.path.exists()


def test_cpulab_db_overrides_the_default_path(tmp_path, monkeypatch):
    monkeypatch.setenv("CPULAB_DB", str(tmp_path / "elsewhere.sqlite"))
    with ResultStore.open() as store:
        store.add_point(result())
    assert (tmp_path / "elsewhere.sqlite").exists()
    assert not (tmp_path / "data").exists()


# Refusals: one clear line naming the file, and the file left exactly as it was


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (random_bytes, "is not a cpulab results store: it is not an SQLite database"),
        (text_file, "is not a cpulab results store: it is not an SQLite database"),
        (foreign_with_a_table, "is an SQLite database that cpulab did not create"),
        (foreign_application, "of another application (application_id 0x47504b47)"),
        (foreign_in_wal_mode, "is an SQLite database that cpulab did not create"),
        (truncated_store, "is damaged: it is cut short"),
        (store_cut_mid_page, "is damaged: it is cut short"),
        (corrupted_store, "is damaged:"),
        (
            newer_store,
            f"was written by a newer cpulab (schema version {SCHEMA_VERSION + 1};"
            f" this one reads up to {SCHEMA_VERSION})",
        ),
    ],
)
def test_refused_files_are_left_untouched(tmp_path, make, expected):
    path = tmp_path / "file.sqlite"
    make(path)
    before, listing = digest(path), sorted(os.listdir(tmp_path))
    with pytest.raises(UsageError) as refusal:
        ResultStore.open(path)
    message = str(refusal.value)
    assert message.startswith(str(path))
    assert expected in message
    assert "\n" not in message
    assert digest(path) == before
    assert sorted(os.listdir(tmp_path)) == listing  # no -journal, -wal or -shm appeared


def test_a_newer_schema_still_in_the_wal_is_refused(tmp_path):
    path = tmp_path / "results.sqlite"
    with ResultStore.open(path):  # holding the store open keeps the change in the WAL
        with closing(sqlite3.connect(path)) as conn:
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        assert path.read_bytes()[60:64] == SCHEMA_VERSION.to_bytes(4, "big")  # the header lags
        before = digest(path)
        with pytest.raises(UsageError, match=f"schema version {SCHEMA_VERSION + 1}"):
            ResultStore.open(path)
        assert digest(path) == before


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(UsageError, match="is a directory"):
        ResultStore.open(tmp_path)


def test_a_copy_of_a_store_opens_like_the_original(tmp_path):
    real_store(tmp_path / "a.sqlite", points=3)
    shutil.copy(tmp_path / "a.sqlite", tmp_path / "b.sqlite")
    with ResultStore.open(tmp_path / "b.sqlite") as store:
        assert len(store.points()) == 3


def test_a_store_too_large_to_check_on_opening_reports_damage_when_read(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "FULL_CHECK_BYTES", 0)
    path = tmp_path / "large.sqlite"
    real_store(path, points=60)
    damage_a_points_page(path)
    before = digest(path)
    # Opened: only the header and the schema were looked at.
    with ResultStore.open(path, readonly=True) as store, pytest.raises(UsageError) as refusal:
        store.points()
    assert str(refusal.value) == f"{path} is damaged: database disk image is malformed"
    assert digest(path) == before
    monkeypatch.setattr(store_module, "FULL_CHECK_BYTES", 1 << 40)
    with pytest.raises(UsageError, match="is damaged"):  # small enough: refused on opening
        ResultStore.open(path, readonly=True)


# A crash loses nothing committed

WRITER = """
import sqlite3, sys, time
from cpulab.engine.events import parse_event
from cpulab.engine.store import ResultStore

path, count = sys.argv[1], int(sys.argv[2])
result = parse_event(sys.stdin.readline())
store = ResultStore.open(path)
for _ in range(count):
    print(store.add_point(result), flush=True)
# A transaction that never commits, big enough to spill pages into the WAL.
held = sqlite3.connect(path, isolation_level=None)
held.execute("PRAGMA cache_size = 2")
held.execute("BEGIN IMMEDIATE")
held.execute("CREATE TABLE junk (x)")
held.executemany("INSERT INTO junk VALUES (randomblob(4000))", [()] * 100)
held.execute("DELETE FROM points")
print("holding", flush=True)
time.sleep(60)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_points_committed_before_a_kill_survive_it(tmp_path):
    path, count = tmp_path / "results.sqlite", 5
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        child.stdin.write(result().to_json() + "\n")
        child.stdin.close()
        ids = [int(child.stdout.readline()) for _ in range(count)]
        assert child.stdout.readline() == "holding\n"
        assert (tmp_path / "results.sqlite-wal").stat().st_size > 0
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()
    with ResultStore.open(path) as store:
        assert [p.id for p in store.points()] == ids
        assert all(p.result == result() for p in store.points())
    assert query(path, "PRAGMA integrity_check") == [("ok",)]
    assert "junk" not in tables_in(path)


def test_store_imports_only_the_standard_library_and_platformdirs():
    probe = "import sys, cpulab.engine.store; print(' '.join(sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert not {"textual", "sklearn", "numpy", "scipy"} & set(loaded)


def test_deleted_points_leave_every_read_and_come_back_when_restored(db, tmp_path):
    sweep_id = db.start_sweep("rf-train", "small", "train", [1, 2], 3, 1, ALPHA)
    in_sweep = [db.add_point(result(t, 1), sweep_id) for t in (1, 2)]
    single = db.add_point(result(4, 1))
    assert db.delete_points([in_sweep[1], single]) == 2
    assert db.delete_points([single]) == 0  # already deleted: nothing changes
    assert [p.id for p in db.points()] == [in_sweep[0]]
    assert db.count_points() == 1
    assert [s.n_points for s in db.sweeps()] == [1]
    assert [p.id for p in db.points(deleted=True)] == [in_sweep[1], single]
    # Marked, not removed: the row is still in the file.
    assert query(tmp_path / "results.sqlite", "SELECT COUNT(*) FROM points") == [(3,)]
    assert db.restore_points([single, in_sweep[1]]) == 2
    assert [p.id for p in db.points()] == [*in_sweep, single]
    assert db.points(deleted=True) == []


def test_a_deletion_is_seen_by_another_connection(tmp_path):
    path = tmp_path / "results.sqlite"
    with ResultStore.open(path) as writer, ResultStore.open(path, readonly=True) as reader:
        kept, gone = writer.add_point(result(1, 1)), writer.add_point(result(2, 1))
        writer.delete_points([gone])
        assert [p.id for p in reader.points()] == [kept]
