"""The user's own data: `--data FILE.csv --target COLUMN [--drop COLUMN ...]`.

The parent only describes the file (`DataSpec`); the runner child loads it.
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("classification", "regression")


@dataclass(frozen=True)
class DataSpec:
    path: str  # absolute
    target: str  # a column name, or a position where the file has no header
    drop: tuple[str, ...] = ()
    kind: str | None = None  # None: inferred from the target column

    @property
    def label(self) -> str:
        """How results name this data: short enough for a table cell."""
        from pathlib import Path

        return f"{Path(self.path).name}:{self.target}"
