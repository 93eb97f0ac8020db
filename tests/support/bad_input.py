"""Bad input as a user gives it: a command line, its environment and the file it names,
run as a real `cpulab` process that must refuse it in one line, with exit status 2, and
change no file."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from support.store import digest


@dataclass(frozen=True)
class Bad:
    """One bad input. "{file}" in the arguments or the environment is a path named `name`
    in a fresh directory, which `make` (if given) fills first."""

    args: tuple[str, ...]
    says: str  # part of the one line that must come back
    env: dict[str, str] = field(default_factory=dict)
    make: Callable[[Path], None] | None = None
    name: str = "given.sqlite"


def bad(*args: str, says: str, env=None, make=None, name="given.sqlite") -> Bad:
    return Bad(args, says, env or {}, make, name)


def case_id(case: Bad) -> str:
    env = [f"{name}={value}" for name, value in case.env.items()]
    made = [case.make.__name__] if case.make else []
    named = [repr(case.name)] if case.name != Bad.name else []
    return " ".join([*env, *case.args, *made, *named])[:100] or "(nothing)"


def directory(path: Path) -> None:
    path.mkdir()


def everything_in(folder: Path) -> dict[Path, str | None]:
    """Every file (with a digest of its bytes) and folder below `folder`; a link is not
    followed (one may lead to /dev/zero)."""
    return {
        path: digest(path) if path.is_file() and not path.is_symlink() else None
        for path in folder.rglob("*")
    }


def check_refused(case: Bad, tmp_path: Path) -> None:
    """Run the case in a real `cpulab` and check the refusal, and that no file changed."""
    place = tmp_path / "given"
    place.mkdir()
    file = place / case.name
    if case.make is not None:
        case.make(file)
    args = [arg.replace("{file}", str(file)) for arg in case.args]
    env = {name: value.replace("{file}", str(file)) for name, value in case.env.items()}
    before = everything_in(tmp_path)

    out = subprocess.run(
        [sys.executable, "-m", "cpulab", *args],
        capture_output=True,
        text=True,
        timeout=60,  # a read that never ends, or an open that never returns, fails here
        stdin=subprocess.DEVNULL,
        env={**os.environ, **env},
    )

    assert (out.returncode, out.stdout) == (2, ""), out.stderr
    assert out.stderr.count("\n") == 1 and out.stderr.endswith("\n"), out.stderr
    assert out.stderr.startswith("cpulab")
    assert case.says in out.stderr, out.stderr
    assert "Traceback" not in out.stderr
    assert everything_in(tmp_path) == before, "a file was changed, added or removed"
