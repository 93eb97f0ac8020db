"""`cpulab history`'s table on a terminal: narrowed to its width, nothing lost."""

import io

import pytest

from cpulab.cli.history import HEADER, _Table

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
