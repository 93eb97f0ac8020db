"""The command palette's commands: every action of the app, with the key that does it.

The key is looked up as the palette searches, in the app's bindings with the user's keymap
applied, so a key that was changed reads as changed. The app's actions act on its main
screen: over a dialog the palette offers only quitting and Textual's own commands.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.markup import escape
from textual.widgets import OptionList, RadioButton, RadioSet

from cpulab.engine.errors import UsageError
from cpulab.engine.store import ResultStore
from cpulab.engine.tasks import SCALES

if TYPE_CHECKING:
    from cpulab.ui.app import CpulabApp

FORMAT_NAMES = {"json": "JSON", "csv": "CSV", "markdown": "Markdown", "html": "HTML"}
SUFFIXES = {"markdown": "md"}
# Textual's commands that cpulab's replace: its theme search by the picker, its quit by
# the app's own, which stops a run first.
REPLACED = {"Theme", "Quit"}


@dataclass(frozen=True)
class Command:
    name: str  # what the palette shows and matches
    help: str
    run: Callable[[], object]
    action: str | None = None  # the app action it runs, whose key the help names
    discover: bool = True  # listed before anything is typed


def keys_for(app: CpulabApp, action: str) -> list[str]:
    """The keys bound to an app action as the footer writes them, the footer's own first.
    From the app's bindings whatever is focused: a key an input takes while focused still
    does the action from anywhere else."""
    bindings = app._bindings.copy()
    bindings.apply_keymap(app._keymap)  # Textual keeps the user's keymap here only
    found = [b for group in bindings.key_to_bindings.values() for b in group if b.action == action]
    return [app.get_key_display(b) for b in sorted(found, key=lambda b: not b.show)]


def export_path(task: str, fmt: str, now: float) -> Path:
    """A new file in the current directory, named after what it holds and when."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    return Path.cwd() / f"cpulab-{task}-{stamp}.{SUFFIXES.get(fmt, fmt)}"


def export_results(store: ResultStore, fmt: str, task: str, path: Path) -> None:
    """Write the stored results of `task` to `path`, as `cpulab export` does: one moment of
    the store, written whole or not at all."""
    from cpulab.engine.export import EXPORTERS, write_export  # see app_commands

    with store.snapshot():
        write_export(EXPORTERS[fmt](store, task=task), path)


class CpulabCommands(Provider):
    """cpulab's actions, its tasks and scales, and Textual's own commands it keeps."""

    @property
    def cpulab(self) -> CpulabApp:
        return cast("CpulabApp", self.app)

    def commands(self) -> Iterator[Command]:
        app = self.cpulab
        if self.screen is app.screen_stack[0]:
            yield from self.app_commands()
        yield Command(
            "Quit", "Stop any run and quit cpulab", partial(app.run_action, "quit"), "quit"
        )
        for system in app.get_system_commands(self.screen):
            if system.title not in REPLACED:
                yield Command(system.title, system.help, system.callback, None, system.discover)

    def app_commands(self) -> Iterator[Command]:
        app = self.cpulab
        actions = [
            ("Run", "Run the chosen task at the chosen split", "run"),
            ("Sweep", "Plan a sweep of splits of the chosen task", "sweep"),
            ("Advise", "Find the fastest split of the chosen task within a time budget", "advise"),
            ("Cancel", "Cancel the run or sweep under way", "cancel"),
            ("Time/speedup", "Show fit times or speedups in the chart", "toggle_speedup"),
            ("Switch panel", "Show and focus the next panel", "switch_view"),
            ("Filter", "Choose which results the table and the chart show", "filters"),
            ("Hide", "Hide the selected result from view", "hide"),
            ("Delete", "Delete the selected result from the store", "delete"),
            ("Undo delete", "Put back the results deleted last", "undo_delete"),
            ("Clear session", "Hide this session's results from view", "clear_session"),
            ("Timeline", "Show the selected result's cores and tasks over time", "timeline"),
            (
                "Cores over the last minute",
                "Show each core's last minute as a heat strip, or its bar again",
                "core_history",
            ),
            ("Theme", "Choose a theme, previewing each", "pick_theme"),
            ("Help", "Show every key and what it does", "help"),
        ]
        for name, help, action in actions:
            if hasattr(app, f"action_{action}"):  # only what this app can do
                yield Command(name, help, partial(app.run_action, action), action)
        for task in app.catalogue.tasks.values():
            yield Command(
                f"Task {task.name}: {task.title}",
                "Choose it in the task list",
                partial(self.choose_task, task.name),
                discover=False,
            )
        for scale in SCALES:
            yield Command(
                f"Scale {scale}",
                f"Run and sweep at the {scale} scale",
                partial(self.choose_scale, scale),
                discover=False,
            )
        store = app.store
        if store is not None:
            # The exporters load with the palette's first search: ~10 ms off the first frame.
            from cpulab.engine.export import EXPORTERS

            on_view = app.workspace.filters.task or app.chosen_task.name
            for fmt in EXPORTERS:
                label = FORMAT_NAMES.get(fmt, fmt.upper())
                yield Command(
                    f"Export results as {label}",
                    f"Write every stored result of {on_view} to a file in the current directory",
                    partial(self.export, store, fmt, on_view),
                )

    def help_text(self, command: Command) -> str:
        keys = keys_for(self.cpulab, command.action) if command.action else []
        text = command.help + (f" · key {' or '.join(keys)}" if keys else "")
        return escape(text)  # the palette reads help as markup

    async def discover(self) -> Hits:
        for command in self.commands():
            if command.discover:
                # Content: the palette reads a plain string as markup.
                display = Content(command.name)
                yield DiscoveryHit(display, command.run, command.name, self.help_text(command))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self.commands():
            score = matcher.match(command.name)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(command.name),
                    command.run,
                    text=command.name,
                    help=self.help_text(command),
                )

    def choose_task(self, name: str) -> None:
        tasks = self.screen.query_one("#tasks", OptionList)
        tasks.highlighted = tasks.get_option_index(name)

    def choose_scale(self, scale: str) -> None:
        buttons = self.screen.query_one("#scale", RadioSet).query(RadioButton)
        buttons[SCALES.index(scale)].value = True

    def export(self, store: ResultStore, fmt: str, task: str) -> None:
        path = export_path(task, fmt, time.time())
        app = self.app

        def write() -> None:  # in a thread: the store is read row batch by row batch
            try:
                export_results(store, fmt, task, path)
            except (UsageError, OSError, sqlite3.Error) as exc:
                app.notify(str(exc), title="Not exported", severity="error", markup=False)
            else:
                app.notify(f"Wrote {path}", title="Exported", timeout=6, markup=False)

        app.run_worker(write, thread=True, group="export")
