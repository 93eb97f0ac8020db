"""`cpulab history`'s table on a terminal: narrowed to its width, nothing lost."""

import io
import json
import sqlite3

import pytest

from cpulab.cli.history import HEADER, _Table
from cpulab.engine.store import ResultStore
from support.cli import cpulab
from support.store import result

ROW = (
    "100000",
    "11-29 14:28",
    "compare-classifiers [data houses.csv, backend threading] (small)",
    "16 x 16",
    "3.153",
    "0.9565",
    "#19023",
    "#1",
    "#2",
    "noisy oversubscribed partial",
)


class Terminal(io.StringIO):
    encoding = "utf-8"

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("columns", "flags"),
    [(80, "noisy partial"), (100, ROW[-1]), (200, ROW[-1])],
)
def test_the_table_fits_the_terminal_and_keeps_every_flag(monkeypatch, columns, flags):
    monkeypatch.setenv("COLUMNS", str(columns))
    out = Terminal()
    _Table(out).write([(*ROW[:-1], flags), (*ROW[:-1], "")])
    lines = out.getvalue().splitlines()
    assert all(len(line) <= columns for line in lines), lines
    assert lines[0].split() == " ".join(HEADER).split()
    flags_at = lines[0].index("flags")
    shown = " ".join(line[flags_at:].strip() for line in lines[2:] if len(line) > flags_at)
    assert shown.split() == flags.split()  # folded under its column where need be
    assert lines[2].split()[3].startswith("compare-class")  # the task cut, not dropped


def test_off_a_terminal_rows_are_as_long_as_their_cells():
    out = io.StringIO()
    _Table(out).write([ROW])
    assert ROW[2] in out.getvalue() and ROW[-1] in out.getvalue()


def test_delete_hides_a_result_from_every_command_and_restore_brings_it_back(tmp_path):
    db = tmp_path / "results.sqlite"
    with ResultStore.open(db) as store:
        kept, gone = store.add_point(result(1, 1)), store.add_point(result(2, 1))
    deleted = cpulab("delete", str(gone), "--db", str(db))
    assert deleted.returncode == 0, deleted.stderr
    assert f"`cpulab restore {gone}` brings it back" in deleted.stdout
    listed = cpulab("history", "--db", str(db)).stdout
    assert listed.startswith("1 stored result,") and "2 x 1" not in listed
    exported = json.loads(cpulab("export", "--db", str(db)).stdout)
    assert [p["id"] for p in exported["runs"]] == [kept]
    in_bin = cpulab("history", "--deleted", "--db", str(db)).stdout
    assert in_bin.startswith("1 deleted result, newest first; restore ID undoes one")
    assert "2 x 1" in in_bin and "1 x 1" not in in_bin
    assert cpulab("restore", str(gone), "--db", str(db)).returncode == 0
    assert cpulab("history", "--db", str(db)).stdout.startswith("2 stored results,")
    assert cpulab("history", "--deleted", "--db", str(db)).stdout == "No results are deleted.\n"


def test_deleting_several_says_restore_brings_them_back(tmp_path):
    db = tmp_path / "results.sqlite"
    with ResultStore.open(db) as store:
        ids = [store.add_point(result(t, 1)) for t in (1, 2)]
    deleted = cpulab("delete", *map(str, ids), "--db", str(db))
    assert deleted.stdout.endswith(f"`cpulab restore {ids[0]} {ids[1]}` brings them back.\n")


@pytest.mark.parametrize("command", ["delete", "restore"])
def test_a_store_another_process_holds_locked_is_one_line_and_nothing_changes(
    tmp_path, monkeypatch, capsys, command
):
    from cpulab import cli
    from cpulab.engine import store as store_module

    db = tmp_path / "results.sqlite"
    with ResultStore.open(db) as store:
        point = store.add_point(result(1, 1))
        if command == "restore":
            store.delete_points([point])
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT", 0.2)  # not 10 s
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # as another process's long write
    try:
        assert cli.main([command, str(point), "--db", str(db)]) == 2
    finally:
        holder.rollback()
        holder.close()
    said = capsys.readouterr()
    assert said.out == ""
    assert said.err == f"cpulab: error: {db}: database is locked: nothing changed, try again\n"
    with ResultStore.open(db) as store:
        assert store.deleted_ids([point]) == {point: command == "restore"}
