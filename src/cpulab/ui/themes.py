"""cpulab's themes: TOML data files turned into Textual themes.

Shipped themes live in themes/ (packaged into the wheel as cpulab/themes); users add
their own in `<user config dir>/cpulab/themes/*.toml`, which win over shipped ones of
the same name. A file that cannot be used is reported, never fatal.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs
from textual.color import Color, ColorParseError
from textual.css.stylesheet import Stylesheet, StylesheetParseError
from textual.css.tokenizer import TokenError
from textual.theme import BUILTIN_THEMES, Theme

from cpulab.engine.errors import UsageError
from cpulab.engine.plugins import read_regular_text

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

DEFAULT_THEME = "cpulab-dark"
COLOURS = (
    "primary",
    "secondary",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
    "success",
    "warning",
    "error",
)
NUMBERS = ("luminosity_spread", "text_alpha")
MAX_THEME_FILE = 1 << 20  # bytes: far beyond any theme, and read whole
DEFAULT_VARIABLES = BUILTIN_THEMES["textual-dark"].to_color_system().generate()


class ThemeError(Exception):
    """A theme file that cannot be used, with the reason in words."""


def shipped_themes_dir() -> Path:
    package = Path(__file__).resolve().parent.parent
    packaged = package / "themes"  # where the wheel puts them
    return packaged if packaged.is_dir() else package.parent.parent / "themes"


def user_themes_dir() -> Path:
    return platformdirs.user_config_path("cpulab") / "themes"


def theme_from_dict(data: dict) -> Theme:
    """Check every key and value, so a bad file fails here and not mid-redraw."""
    unknown = set(data) - {"name", "dark", "variables", *COLOURS, *NUMBERS}
    if unknown:
        raise ThemeError(f"unknown key {sorted(unknown)[0]!r}")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ThemeError('it needs a name, for example name = "my-theme"')
    if "primary" not in data:
        raise ThemeError("it needs at least a primary colour")
    for key in COLOURS:
        value = data.get(key)
        if value is None:
            continue
        try:
            Color.parse(value)
        except (ColorParseError, TypeError):
            raise ThemeError(f"{key} = {value!r} is not a colour") from None
    if not isinstance(data.get("dark", True), bool):
        raise ThemeError("dark must be true or false")
    for key in NUMBERS:
        # TOML has nan and inf, on which Textual's colour arithmetic fails.
        if key in data and not (isinstance(data[key], int | float) and math.isfinite(data[key])):
            raise ThemeError(f"{key} must be a finite number")
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise ThemeError("variables must be a table of name = value")
    for key, value in variables.items():
        check_variable(key, value)
    theme = Theme(**data)
    try:
        theme.to_color_system().generate()  # what Textual does on switching to it
    except (ValueError, ArithmeticError) as exc:
        raise ThemeError(f"its colours cannot be worked out ({exc})") from None
    return theme


def check_variable(name: str, value: object) -> None:
    """Parse the variable the way the app's stylesheet will, which would fail mid-run."""
    if name not in DEFAULT_VARIABLES:
        raise ThemeError(f"unknown variable {name!r}")
    if not isinstance(value, str):
        raise ThemeError(f"variable {name} must be a string")
    rule = "text-style" if "style" in name else "color"
    sheet = Stylesheet(variables={**DEFAULT_VARIABLES, name: value})
    sheet.add_source(f"* {{ {rule}: ${name}; }}")
    try:
        sheet.parse()
    except (StylesheetParseError, TokenError):  # TokenError: a value that is not even a token
        raise ThemeError(f"variable {name} = {value!r} is not a {rule} value") from None


def load_theme_file(path: Path) -> Theme:
    try:
        data = tomllib.loads(read_regular_text(path, MAX_THEME_FILE))
        return theme_from_dict(data)
    # ValueError: not a regular file, too large, not UTF-8, not TOML (TOMLDecodeError).
    except (OSError, ValueError, ThemeError) as exc:
        raise ThemeError(f"theme file {path}: {exc}") from None
    except RecursionError:  # tomllib reads nested arrays and tables recursively
        raise ThemeError(f"theme file {path}: it is nested too deeply to read") from None


@dataclass
class ThemeCatalog:
    """cpulab's themes by name, and what was wrong with the files that were skipped."""

    themes: dict[str, Theme] = field(default_factory=dict)
    # file stem (a folder's path, where it cannot be listed): reason
    problems: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, directories: tuple[Path, ...] | None = None) -> ThemeCatalog:
        catalog = cls()
        for directory in directories or (shipped_themes_dir(), user_themes_dir()):
            try:
                paths = sorted(directory.glob("*.toml"))
            except OSError as exc:  # a folder that cannot be listed, such as a too long name
                catalog.problems[str(directory)] = f"theme folder {directory}: {exc.strerror}"
                continue
            for path in paths:
                try:
                    theme = load_theme_file(path)
                except ThemeError as exc:
                    catalog.problems[path.stem] = str(exc)
                else:
                    catalog.themes[theme.name] = theme
        return catalog

    def names(self) -> list[str]:
        """cpulab's themes first, then Textual's own."""
        return [*self.themes, *(name for name in BUILTIN_THEMES if name not in self.themes)]

    def check(self, name: str) -> str:
        """A name to start with. Naming a theme whose file is broken is bad input too;
        other broken files only get reported in the app."""
        if name in self.problems:
            raise UsageError(self.problems[name])
        if name in self.themes or name in BUILTIN_THEMES:
            return name
        raise UsageError(f"unknown theme {name!r}: choose one of {', '.join(self.names())}")
