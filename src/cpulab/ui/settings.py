"""The settings file's part that needs Textual: themes and keys checked, the keymap made.

The file itself is read and written by cpulab.engine.settings, which the commands use
without loading Textual; `cpulab config` and the app check the rest here, alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from textual.binding import Binding, BindingType
from textual.keys import Keys, _character_to_key, key_to_character

from cpulab.engine.errors import UsageError
from cpulab.engine.settings import Settings
from cpulab.ui.themes import ThemeCatalog

MODIFIERS = ("ctrl", "shift", "alt", "meta", "super", "hyper")
KEY_NAMES = frozenset(key.value.rsplit("+", 1)[-1] for key in Keys)


@dataclass(frozen=True)
class KeyChoice:
    """One of the app's keys: its binding, and the keys the settings give it instead."""

    binding: Binding
    override: str | None = None  # as the settings file writes it

    @property
    def keys(self) -> str:
        return self.override or self.binding.key


@dataclass(frozen=True)
class Keymap:
    """The [keys] table made into Textual's keymap, and what in it was left out."""

    choices: list[KeyChoice] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # warnings: unknown ids, clashes

    @property
    def overrides(self) -> dict[str, str]:
        """Binding id: keys, for App.set_keymap."""
        return {c.binding.id: c.override for c in self.choices if c.binding.id and c.override}


def key_problem(keys: str) -> str | None:
    """Why `keys` (one key, or several separated by commas) is not something Textual binds,
    or None where it is."""
    for key in keys.split(","):
        *modifiers, name = key.strip().split("+")
        unknown = [m for m in modifiers if m not in MODIFIERS]
        if unknown:
            return f"{key.strip()!r}: {unknown[0]!r} is not a modifier ({', '.join(MODIFIERS)})"
        if len(name) == 1 or name in KEY_NAMES or key_to_character(name) is not None:
            continue
        return f"{key.strip()!r} is not a key name (such as r, f5, ctrl+r, question_mark)"
    return None


def make_keymap(keys: dict[str, str], bindings: Iterable[BindingType]) -> Keymap:
    """The app's keys with the settings' overrides. A key Textual cannot bind is bad input;
    an id no binding has, or a key two bindings share, only a warning."""
    by_id = {b.id: b for b in bindings if isinstance(b, Binding) and b.id}
    problems = []
    unknown = [name for name in keys if name not in by_id]
    if unknown:
        problems.append(
            f"[keys] names no key binding {', '.join(unknown)}; the ids are {', '.join(by_id)}"
        )
    for name, value in keys.items():
        problem = key_problem(value)
        if problem:
            raise UsageError(f"keys.{name}: {problem}")
    choices = [KeyChoice(binding, keys.get(name)) for name, binding in by_id.items()]
    holders: dict[str, list[str]] = {}
    for choice in choices:
        for key in choice.keys.split(","):
            key = key.strip()
            holders.setdefault(_character_to_key(key) if len(key) == 1 else key, []).append(
                choice.binding.id or ""
            )
    for key, ids in holders.items():
        if len(ids) > 1:
            problems.append(f"[keys] gives {key} to {' and '.join(ids)}: only one of them acts")
    return Keymap(choices, problems)


def check_app_settings(settings: Settings, bindings: Iterable[BindingType]) -> list[str]:
    """What the app would refuse in the settings, as UsageError; what it would only warn
    of in its keys, returned. For the command line, before the app starts."""
    if settings.theme is not None:
        try:
            ThemeCatalog.load().check(settings.theme)
        except UsageError as exc:
            raise UsageError(f"settings file {settings.path}: theme: {exc}") from None
    try:
        keymap = make_keymap(settings.keys, bindings)
    except UsageError as exc:
        raise UsageError(f"settings file {settings.path}: {exc}") from None
    return [f"{settings.path}: {problem}" for problem in keymap.problems]
