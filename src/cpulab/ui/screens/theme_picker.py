"""Choose a theme by seeing it: each one is applied as the highlight reaches it.

The theme is changed the one way the app knows, by setting `app.theme`, so whatever
follows theme changes follows the preview too. Escape puts back the theme the picker
started with; Enter keeps the highlighted one.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

CURRENT = "●"  # marks the theme in use when the picker opened: a shape, for NO_COLOR too


class ThemePicker(ModalScreen[str | None]):
    """Dismisses with the theme kept, or None when Escape put the first one back."""

    BINDINGS = [Binding("escape", "restore", "Back")]
    DEFAULT_CSS = """
    ThemePicker {
        align: right top;
        background: transparent;  /* the app in full view, in the theme under the cursor */
        & > Vertical {
            width: 38;
            height: 100%;
            border: round $border;
            background: $surface;
            padding: 0 1;
        }
        & OptionList, & OptionList:focus { height: 1fr; border: none; padding: 0; }
        & #picker-help { height: auto; color: $text-muted; }
    }
    """

    def __init__(self, names: Sequence[str], current: str) -> None:
        super().__init__()
        self.names = list(names)
        self.started_with = current

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Theme"
            yield OptionList(*(self._option(name) for name in self.names), id="themes")
            yield Static("↑↓ preview · Enter keep · Esc back", id="picker-help")

    def _option(self, name: str) -> Option:
        mark = CURRENT if name == self.started_with else " "
        return Option(Text(f"{mark} {name}"), id=name)

    def on_mount(self) -> None:
        themes = self.query_one(OptionList)
        if self.started_with in self.names:
            themes.highlighted = self.names.index(self.started_with)
        themes.focus()

    @on(OptionList.OptionHighlighted)
    def _preview(self, message: OptionList.OptionHighlighted) -> None:
        if message.option_id is not None:
            self.app.theme = message.option_id

    @on(OptionList.OptionSelected)
    def _keep(self, message: OptionList.OptionSelected) -> None:
        self.app.theme = message.option_id or self.started_with
        self.dismiss(self.app.theme)

    def action_restore(self) -> None:
        self.app.theme = self.started_with
        self.dismiss(None)
