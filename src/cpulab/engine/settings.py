"""The user's settings file: what the app and the commands start with.

`<user config dir>/cpulab/settings.toml`, or the file $CPULAB_CONFIG names:

    theme = "cpulab-dark"        # the app's theme; the app writes it back when it changes
    sample_hz = 4                # how often the app samples the cores
    scale = "small"              # the workload size the app and `run` / `sweep` start with
    db = "~/cpulab.sqlite"       # the results store ($CPULAB_DB and --db win over it)
    screenshot_dir = "~/shots"   # where the app saves screenshots (default: the current one)

    [keys]                       # the app's keys, by binding id (see the app's help, F1)
    run = "ctrl+r"

Command-line options win over the environment, the environment over the file, the file
over the defaults. A file that cannot be used is bad input (UsageError); names it does not
know are only reported, so a file written for a newer cpulab still starts an older one.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from cpulab.engine.errors import UsageError
from cpulab.engine.plugins import read_regular_text
from cpulab.engine.tasks import SCALES
from cpulab.monitor.sampler import check_sample_hz

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

ENV_VAR = "CPULAB_CONFIG"
FILE_NAME = "settings.toml"
MAX_SETTINGS_FILE = 1 << 20  # bytes: far beyond any settings file, and read whole
NAMES = ("theme", "sample_hz", "scale", "db", "screenshot_dir")
KEYS_TABLE = "keys"
# A table's header: the top-level settings come before the first.
TABLE_HEADER = re.compile(r"\s*\[")


def settings_path() -> Path:
    """$CPULAB_CONFIG when set, else settings.toml in the user config directory."""
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override).expanduser()
    return platformdirs.user_config_path("cpulab", appauthor=False) / FILE_NAME


@dataclass(frozen=True)
class Settings:
    """What a settings file says, checked; empty where there is none (path None: none
    was looked for)."""

    path: Path | None = None
    exists: bool = False
    values: dict[str, object] = field(default_factory=dict)  # name: checked value
    keys: dict[str, str] = field(default_factory=dict)  # binding id: keys, as written
    unknown: tuple[str, ...] = ()  # names the file sets that cpulab does not know

    @property
    def theme(self) -> str | None:
        return self._get("theme", str)

    @property
    def sample_hz(self) -> float | None:
        return self._get("sample_hz", float)

    @property
    def scale(self) -> str | None:
        return self._get("scale", str)

    @property
    def db(self) -> Path | None:
        return self._get("db", Path)

    @property
    def screenshot_dir(self) -> Path | None:
        return self._get("screenshot_dir", Path)

    def _get(self, name: str, kind: type):
        value = self.values.get(name)
        assert value is None or isinstance(value, kind)
        return value

    def warnings(self) -> list[str]:
        if not self.unknown:
            return []
        names = ", ".join(self.unknown)
        return [f"{self.path}: unknown settings, left out: {names}"]


def load_settings(path: Path | None = None) -> Settings:
    """The settings in `path` (default: settings_path()); no file is no settings."""
    path = settings_path() if path is None else path
    try:
        text = read_regular_text(path, MAX_SETTINGS_FILE)
    except FileNotFoundError:
        return Settings(path)
    # ValueError: not a regular file, too large, not UTF-8 (UnicodeDecodeError).
    except (OSError, ValueError) as exc:
        raise UsageError(f"settings file {path}: {_reason(exc)}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"settings file {path} is not TOML: {exc}") from None
    except RecursionError:  # tomllib reads nested arrays and tables recursively
        raise UsageError(f"settings file {path}: it is nested too deeply to read") from None
    try:
        return _checked(path, data)
    except UsageError as exc:
        raise UsageError(f"settings file {path}: {exc}") from None


def _checked(path: Path, data: Mapping[str, object]) -> Settings:
    values: dict[str, object] = {}
    unknown = [name for name in data if name not in (*NAMES, KEYS_TABLE)]
    for name in NAMES:
        if name in data:
            values[name] = _value(name, data[name])
    keys = data.get(KEYS_TABLE, {})
    if not isinstance(keys, dict):
        raise UsageError(f'{KEYS_TABLE} must be a table, such as [keys] run = "ctrl+r"')
    for binding, value in keys.items():
        if not isinstance(value, str) or not all(k.strip() for k in value.split(",")):
            raise UsageError(
                f'keys.{binding} must be keys in quotes, such as "ctrl+r" or "r,f5", not {value!r}'
            )
    return Settings(path, True, values, dict(keys), tuple(unknown))


def _value(name: str, value: object) -> object:
    if name in ("theme", "scale", "db", "screenshot_dir"):
        if not isinstance(value, str):
            raise UsageError(f"{name} must be a string in quotes, not {value!r}")
        if not value.strip():
            raise UsageError(f"{name} must name something, not be empty")
        if name == "scale" and value not in SCALES:
            raise UsageError(f"scale must be one of {', '.join(SCALES)}, not {value!r}")
        if name in ("db", "screenshot_dir"):
            return _path(name, value)
        return value
    # sample_hz; bool is an int to Python, but `sample_hz = true` is a mistake.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise UsageError(f"sample_hz must be a number of samples per second, not {value!r}")
    return check_sample_hz(float(value))


def _path(name: str, text: str) -> Path:
    try:
        return Path(text).expanduser()
    except RuntimeError:  # a ~user that names no user
        raise UsageError(f"{name}: cannot find the home directory in {text!r}") from None


def save_setting(path: Path, name: str, value: str) -> None:
    """Set one top-level string setting in the file, keeping every other line (comments
    too) as it is: its line is rewritten, or a new one goes before the first table.
    Raises OSError where the file cannot be written, UsageError where the file as it is
    cannot take the change (it is not TOML, or sets the name in a way not rewritten)."""
    try:
        text = read_regular_text(path, MAX_SETTINGS_FILE)
    except FileNotFoundError:
        text = ""
    except ValueError as exc:
        raise UsageError(f"settings file {path}: {_reason(exc)}") from None
    line = f"{name} = {toml_string(value)}"
    lines = text.splitlines()
    assignment = re.compile(rf"\s*{re.escape(name)}\s*=")
    end = next((i for i, row in enumerate(lines) if TABLE_HEADER.match(row)), len(lines))
    found = next((i for i in range(end) if assignment.match(lines[i])), None)
    if found is not None:
        lines[found] = line
    else:
        while end > 0 and not lines[end - 1].strip():
            end -= 1  # after the last top-level line, not after the blank lines before a table
        lines.insert(end, line)
    updated = "\n".join(lines) + "\n"
    try:
        if tomllib.loads(updated).get(name) != value:
            raise UsageError(f"settings file {path}: {name} could not be rewritten")
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"settings file {path} is not TOML: {exc}") from None
    # A new file beside the old, renamed over it: a crash mid-write leaves the old one.
    # Beside the file a link points to, so a settings file kept elsewhere stays there.
    target = Path(os.path.realpath(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.write_text(updated, encoding="utf-8")
    os.replace(partial, target)


def toml_string(value: str) -> str:
    """`value` as a TOML basic string."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c.isprintable() else f"\\U{ord(c):08x}" for c in escaped) + '"'


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, UnicodeDecodeError):
        return "it is not UTF-8 text"
    return str(exc)
