"""The look and keys of a screen that is only read: a bordered box in the middle that
scrolls, over the app; Escape or q closes it."""

from __future__ import annotations

from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen


class ReadingScreen(ModalScreen[None]):
    """Compose one VerticalScroll holding what is to be read; it takes the focus, so the
    arrow keys scroll it. A subclass sets its own width and adds its own keys."""

    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("q", "dismiss", "Close", show=False),
    ]
    DEFAULT_CSS = """
    ReadingScreen {
        align: center middle;
        & > VerticalScroll {
            width: 100%;
            max-width: 100;
            height: auto;
            max-height: 100%;
            border: round $border;
            border-subtitle-color: $text-muted;
            background: $surface;
            padding: 0 1;
        }
    }
    """

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()
