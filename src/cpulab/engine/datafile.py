"""The user's own data: `--data FILE.csv --target COLUMN [--drop COLUMN ...] [--kind KIND]`.

The parent only describes the file (`data_spec`, the csv module and the first rows alone);
the runner child loads every row (`load_dataset`, with numpy).

How a file is read:

- Delimiter: comma, tab or semicolon, whichever splits every sampled row into the same
  number of fields, more than one (the most fields wins; a tie goes to the comma). Numbers
  use a decimal point.
- Header: the first row is a header when one of its fields is text (not a number, not
  empty, not a missing-value marker) while the other sampled rows of that column hold
  numbers; where the file has no other rows, when any of its fields is text.
- Columns: named by their header name, or by 0-based position (negative counts from the
  end), with or without a header. A header field left empty is named by its position.
- Missing values: empty fields, NA, N/A, NaN, null, none, ? and infinities. cpulab does not
  impute them: the file is refused, saying how many there are and where the first is.
  Numbers beyond float32's range (about 3.4e38), which scikit-learn's trees compute in,
  are refused the same way.
- Only a regular file is read: a named pipe or a device is refused before it is opened.
- Kind, unless --kind says: a target holding text is classification; a numeric target of
  whole numbers with at most 20 distinct values, fewer than half the rows, is
  classification; any other numeric target is regression.
"""

from __future__ import annotations

import csv
import math
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from cpulab.engine.errors import UsageError

if TYPE_CHECKING:
    from cpulab.api import Dataset

KINDS = ("classification", "regression")
DELIMITERS = (",", "\t", ";")
_DELIMITER_NAMES = {",": "comma", "\t": "tab", ";": "semicolon"}
SAMPLE_ROWS = 100  # rows the parent reads to find the delimiter, header and columns
LINE_CHARS = 1 << 20  # a sampled line is cut here: a file without line breaks is not read whole
MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})
FLOAT32_MAX = 3.4028234663852886e38  # beyond it, a number becomes infinity as a float32
MAX_CLASSES = 20  # an integer target with more distinct values than this is regression
COLUMNS_LISTED = 8  # column names an error lists before it abbreviates


@dataclass(frozen=True)
class DataSpec:
    path: str  # absolute
    target: str  # the column's header name, or its 0-based position where there is no header
    drop: tuple[str, ...] = ()  # named as the target is
    kind: str | None = None  # None: inferred from the target column
    header: bool = True  # the first row names the columns
    delimiter: str = ","
    # The kind the first rows already settle, without --kind: a target holding text is
    # classes, one holding a fraction is regression. None where only every row can tell.
    shown_kind: str | None = None

    @property
    def label(self) -> str:
        """How results name this data: short enough for a table cell."""
        return f"{Path(self.path).name}:{self.target}"


def _drop_names(drop: Iterable[str], columns: list[str]) -> list[str]:
    """The columns each --drop names: the whole text where a column is called so ("b,c"),
    else its comma-separated names. An empty name is refused, as an empty --target is."""
    names = []
    for text in drop:
        parts = [text.strip()] if text.strip() in columns else text.split(",")
        if any(not part.strip() for part in parts):
            raise UsageError(f"--drop {text!r} holds an empty column name")
        names += [part.strip() for part in parts]
    return names


def data_spec(
    path: str | os.PathLike[str],
    target: str,
    drop: Iterable[str] = (),
    kind: str | None = None,
) -> DataSpec:
    """Check a data file from its first rows and describe it for the runner child.

    Refuses with a UsageError what the first rows already show to be wrong: a file that
    is missing, unreadable or empty, an unknown column, a dropped target, a kind that
    does not exist, a regression target holding text."""
    if kind is not None and kind not in KINDS:
        raise UsageError(f"unknown --kind {kind!r}: choose classification or regression")
    if not str(path).strip():  # Path("") is the current directory
        raise UsageError("--data names no file: give the path of a CSV file")
    file = Path(path).expanduser().absolute()
    try:
        mode = file.stat().st_mode
    except FileNotFoundError:
        raise UsageError(f"no data file {str(path)!r}") from None
    except OSError as exc:
        raise UsageError(f"cannot read {file}: {exc.strerror or exc}") from None
    _check_regular(mode, str(path))
    lines = _sample_lines(file)
    if not lines:
        raise UsageError(f"{file.name} is empty: there are no rows to learn from")
    delimiter = _delimiter(lines)
    with _open(file) as handle:
        records = list(islice(_records(file, handle, delimiter), SAMPLE_ROWS))
    header = _has_header([row for _, row in records])
    rows = records[1:] if header else records
    if not rows:
        raise UsageError(f"{file.name} has a header but no data rows")
    columns = _column_names(records[0][1], header)
    _check_widths(file.name, records, len(columns))
    if len(columns) < 2:
        raise UsageError(
            f"{file.name} has a single column ({_DELIMITER_NAMES[delimiter]}-separated): "
            "cpulab needs feature columns and a target"
        )
    target_index = find_column(target, columns, header, file.name)
    target_name = columns[target_index]
    dropped: list[str] = []
    for name in _drop_names(drop, columns):
        index = find_column(name, columns, header, file.name)
        if index == target_index:
            raise UsageError(f"--drop {name} names the target column {target_name!r}")
        if columns[index] not in dropped:
            dropped.append(columns[index])
    if len(dropped) == len(columns) - 1:
        raise UsageError(f"dropping {', '.join(dropped)} leaves {file.name} no feature columns")
    if kind == "regression":
        for line, row in rows:
            if _is_text(row[target_index]):
                raise UsageError(_text_target(target_name, row[target_index], line))
    return DataSpec(
        path=str(file),
        target=target_name,
        drop=tuple(dropped),
        kind=kind,
        header=header,
        delimiter=delimiter,
        shown_kind=None if kind else _shown_kind([row[target_index] for _, row in rows]),
    )


def _shown_kind(values: list[str]) -> str | None:
    """What a sample of the target settles under `infer_kind`'s rule, if anything."""
    if any(_is_text(value) for value in values):
        return "classification"
    numbers = [n for n in map(_number, values) if n is not None and math.isfinite(n)]
    if any(not n.is_integer() for n in numbers):
        return "regression"
    return None


def find_column(name: str, columns: list[str], header: bool, source: str) -> int:
    """The index of a column given by header name or by position (negative from the end)."""
    if header and name in columns:
        index = columns.index(name)
    else:
        try:
            position = int(name)
        except ValueError:
            position = None
        if position is None or not -len(columns) <= position < len(columns):
            raise UsageError(f"{source} has no column {name!r}: {_column_listing(columns, header)}")
        index = position % len(columns)
    if columns.count(columns[index]) > 1:
        raise UsageError(
            f"{source} names {columns.count(columns[index])} columns {columns[index]!r}: "
            "rename them so that each name is unique"
        )
    return index


def _column_listing(columns: list[str], header: bool) -> str:
    count = len(columns)
    if not header:
        return (
            f"it has no header, so name its {count} columns by position, "
            f"0 to {count - 1} (or -{count} to -1)"
        )
    shown = ", ".join(columns[:COLUMNS_LISTED])
    more = f" and {count - COLUMNS_LISTED} more" if count > COLUMNS_LISTED else ""
    return f"its columns are {shown}{more}"


def file_kind(mode: int) -> str:
    """What a file that is not a regular one is, by its st_mode, as a message names it."""
    kinds = (
        (stat.S_ISDIR, "directory"),
        (stat.S_ISFIFO, "named pipe"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISSOCK, "socket"),
    )
    return next((kind for is_kind, kind in kinds if is_kind(mode)), "special file")


def _check_regular(mode: int, shown: str) -> None:
    if not stat.S_ISREG(mode):
        raise UsageError(f"{shown!r} is a {file_kind(mode)}, not a data file")


def _open(file: Path) -> TextIO:
    try:
        # Non-blocking: opening a named pipe put here since it was checked returns at once,
        # and is then refused, rather than waiting for a writer. Reads of a regular file
        # ignore the flag.
        fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise UsageError(f"cannot read {file}: {exc.strerror or exc}") from None
    try:
        _check_regular(os.fstat(fd).st_mode, str(file))
    except BaseException:
        os.close(fd)
        raise
    # utf-8-sig: spreadsheet exports often start with a byte-order mark.
    return open(fd, encoding="utf-8-sig", newline="")


@contextmanager
def _reading(file: Path, line: Callable[[], int]) -> Iterator[None]:
    """Turn what reading the file can raise into one line of bad input."""
    try:
        yield
    except UnicodeDecodeError:
        raise UsageError(f"{file.name} is not UTF-8 text") from None
    except csv.Error as exc:
        raise UsageError(f"{file.name} line {line()} cannot be read: {exc}") from None
    except OSError as exc:
        raise UsageError(f"cannot read {file}: {exc.strerror or exc}") from None


def _sample_lines(file: Path) -> list[str]:
    """The first non-blank lines, each cut at LINE_CHARS: enough to tell the delimiter."""
    lines: list[str] = []
    with _open(file) as handle, _reading(file, lambda: len(lines) + 1):
        while len(lines) < SAMPLE_ROWS and (line := handle.readline(LINE_CHARS)):
            if line.strip():
                lines.append(line.rstrip("\r\n"))
    return lines


def _records(file: Path, handle: TextIO, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """Non-blank rows with the line each ends on."""
    reader = csv.reader(handle, delimiter=delimiter)
    with _reading(file, lambda: reader.line_num):
        for row in reader:
            if any(field.strip() for field in row):
                yield reader.line_num, row


def _delimiter(lines: list[str]) -> str:
    widths = {d: _widths(lines, d) for d in DELIMITERS}
    consistent = [d for d in DELIMITERS if len(widths[d]) == 1 and min(widths[d]) > 1]
    if not consistent:
        return DELIMITERS[0]
    return max(consistent, key=lambda d: min(widths[d]))  # max keeps the first of a tie


def _widths(lines: list[str], delimiter: str) -> set[int]:
    """The numbers of fields the lines split into; none where a field would pass the csv
    module's field limit, which rules the delimiter out (a wide line is one long field
    to every delimiter but its own)."""
    try:
        return {len(next(csv.reader([line], delimiter=delimiter))) for line in lines}
    except csv.Error:
        return set()


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _is_missing(text: str) -> bool:
    number = _number(text)
    if number is None:
        return text.strip().lower() in MISSING
    return not math.isfinite(number)


def _is_text(text: str) -> bool:
    return _number(text) is None and text.strip().lower() not in MISSING


def _has_header(rows: list[list[str]]) -> bool:
    first, later = rows[0], rows[1:]
    if not later:
        return any(_is_text(field) for field in first)
    for index, field in enumerate(first):
        below = [row[index] for row in later if index < len(row) and not _is_missing(row[index])]
        if _is_text(field) and below and not any(_is_text(value) for value in below):
            return True
    return False


def _column_names(first: list[str], header: bool) -> list[str]:
    if not header:
        return [str(index) for index in range(len(first))]
    return [name.strip() or str(index) for index, name in enumerate(first)]


def _check_widths(source: str, records: list[tuple[int, list[str]]], width: int) -> None:
    for line, row in records:
        if len(row) != width:
            raise UsageError(
                f"{source} line {line} has {len(row)} fields where the first row has {width}"
            )


def _text_target(target: str, value: str, line: int) -> str:
    return (
        f"the target {target!r} holds text ({value.strip()!r} on line {line}), "
        "so it cannot be a regression target"
    )


def infer_kind(values: list[float]) -> str:
    """Classification for whole numbers with at most MAX_CLASSES distinct values, fewer
    than half the rows; regression otherwise. (A target holding text is classes anyway.)"""
    distinct = set(values)
    few = len(distinct) <= MAX_CLASSES and 2 * len(distinct) < len(values)
    return "classification" if few and all(v.is_integer() for v in values) else "regression"


def load_dataset(spec: DataSpec) -> Dataset:
    """Load every row of the file the parent checked; runs in the runner child.

    Refuses with a UsageError: a feature column holding text, missing values, a
    regression target holding text, a classification target with a single class."""
    import numpy as np

    from cpulab.api import Dataset

    file = Path(spec.path)
    source = file.name
    if not file.exists():
        raise UsageError(f"no data file {spec.path!r}")
    with _open(file) as handle:
        records = list(_records(file, handle, spec.delimiter))
    rows = records[1:] if spec.header else records
    if not rows:
        raise UsageError(f"{source} has no data rows")
    columns = _column_names(records[0][1], spec.header)
    _check_widths(source, records, len(columns))
    target = find_column(spec.target, columns, spec.header, source)
    dropped = {find_column(name, columns, spec.header, source) for name in spec.drop}
    features = [i for i in range(len(columns)) if i != target and i not in dropped]

    X = np.empty((len(rows), len(features)))
    missing: list[tuple[int, int]] = []  # (line, column) of each missing value
    too_large: list[tuple[int, int]] = []  # (line, column) of each beyond float32's range
    for r, (line, row) in enumerate(rows):
        for c, index in enumerate(features):
            if _is_text(row[index]):
                raise UsageError(
                    f"{source} column {columns[index]!r} is not numeric "
                    f"({row[index].strip()!r} on line {line}): cpulab fits numbers only, "
                    f"so --drop {columns[index]} or encode it as numbers"
                )
            if _is_missing(row[index]):
                missing.append((line, index))
            else:
                X[r, c] = float(row[index])
                if abs(X[r, c]) > FLOAT32_MAX:
                    too_large.append((line, index))
        if _is_missing(row[target]):
            missing.append((line, target))
        elif (number := _number(row[target])) is not None and abs(number) > FLOAT32_MAX:
            too_large.append((line, target))
    if missing:
        line, index = missing[0]
        raise UsageError(
            f"{source} has {len(missing)} missing or infinite "
            f"{'value' if len(missing) == 1 else 'values'} (the first on line {line}, column "
            f"{columns[index]!r}); cpulab does not impute: fill them in, remove those rows, "
            "or --drop the column"
        )
    if too_large:
        line, index = too_large[0]
        raise UsageError(
            f"{source} has {len(too_large)} {'value' if len(too_large) == 1 else 'values'} "
            f"beyond float32's range of ±3.4e38 (the first on line {line}, column "
            f"{columns[index]!r}); scikit-learn's trees compute in float32: rescale the "
            "column, remove those rows, or --drop the column"
        )

    labels = [row[target].strip() for _, row in rows]
    text = next(((line, row[target]) for line, row in rows if _is_text(row[target])), None)
    numbers = [] if text else [float(label) for label in labels]
    kind = spec.kind or ("classification" if text else infer_kind(numbers))
    if kind == "regression":
        if text:
            raise UsageError(_text_target(columns[target], text[1], text[0]))
        y = np.array(numbers)
    elif not text and all(number.is_integer() for number in numbers):
        y = np.array(numbers).astype(np.int64)
    else:
        y = np.array(labels)  # text labels, or fractions that --kind names classes
    if kind == "classification" and len(np.unique(y)) < 2:
        raise UsageError(
            f"the target {columns[target]!r} of {source} holds a single class "
            f"({labels[0]!r}): classification needs two or more"
        )
    return Dataset(
        X=X,
        y=y,
        kind=kind,
        source=spec.path,
        feature_names=tuple(columns[i] for i in features),
        target_name=columns[target],
    )
