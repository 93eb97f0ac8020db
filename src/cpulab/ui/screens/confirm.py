"""A yes-or-no question before something that changes the store."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class Confirm(ModalScreen[bool]):
    """Dismisses with True when the user goes ahead; Escape or "Keep" is False."""

    BINDINGS = [Binding("escape", "dismiss(False)", "Keep")]
    DEFAULT_CSS = """
    Confirm {
        align: center middle;
        & > Vertical {
            width: 60;
            max-width: 100%;
            height: auto;
            border: round $error;
            background: $surface;
            padding: 0 1;
        }
        & #question { height: auto; }
        & Horizontal { height: auto; margin-top: 1; align-horizontal: right; }
        & Button { margin-left: 2; }
    }
    """

    def __init__(self, question: str, action: str) -> None:
        super().__init__()
        self.question, self.action = question, action

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question, id="question")
            with Horizontal():
                yield Button("Keep", id="keep", compact=True)
                yield Button(self.action, id="go", variant="error", compact=True)

    def on_mount(self) -> None:
        self.query_one("#keep").focus()  # Enter at once keeps what is there

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "go")
