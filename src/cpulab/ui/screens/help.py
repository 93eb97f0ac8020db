"""Every key of the app and what it does, with the ones the settings file changed."""

from __future__ import annotations

from dataclasses import dataclass

from rich import box
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from cpulab.ui.screens.reading import ReadingScreen


@dataclass(frozen=True)
class KeyHelp:
    """One line of the help: the keys as shown, what they do, and whether the settings
    chose them (the binding id is what the settings file's [keys] table names)."""

    keys: str
    does: str
    binding_id: str = ""
    override: str | None = None  # the keys as the settings file writes them
    default: str | None = None  # the keys it had before, as shown


class HelpScreen(ReadingScreen):
    """The keys; Escape, F1, ? or q closes it."""

    BINDINGS = [Binding("f1,question_mark", "dismiss", "Close", show=False)]
    DEFAULT_CSS = """
    HelpScreen > VerticalScroll {
        width: 84;
        max-width: 100%;
    }
    """

    def __init__(self, keys: list[KeyHelp], source: str | None = None) -> None:
        """`source`: where the settings file is, said under the keys it changed."""
        super().__init__()
        self.keys, self.source = keys, source

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = "Keys"
            scroll.border_subtitle = "Esc closes"
            yield Static(self._table(), id="keys")
            changed = [k for k in self.keys if k.default is not None]
            if changed:
                yield Static(self._changed(changed), id="changed")

    def _table(self) -> Table:
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=False)
        table.add_column("key", no_wrap=True, style="bold")
        table.add_column("does")
        table.add_column(Text("id in [keys]"), style="dim", no_wrap=True)
        for key in self.keys:
            does = Text(key.does)
            if key.default is not None:
                does.append(" *", style="bold")
            table.add_row(key.keys, does, key.binding_id)
        return table

    def _changed(self, changed: list[KeyHelp]) -> Text:
        text = Text("* changed in ", style="italic")
        text.append(self.source or "the settings", style="italic")
        for key in changed:
            text.append(f'\n  {key.binding_id} = "{key.override}" (was {key.default})')
        return text
