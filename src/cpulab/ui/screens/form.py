"""The look of a dialog of fields over the app (a sweep's plan, an advice search): a box in
the middle, a label to the left of each field, a line under them (#plan) that says what the
fields make or what is wrong with them, and the buttons (#dialog-buttons) to the right.
Escape closes it with nothing."""

from __future__ import annotations

from typing import TypeVar

from textual.binding import Binding
from textual.screen import ModalScreen

ResultT = TypeVar("ResultT")


class FormDialog(ModalScreen[ResultT]):
    BINDINGS = [Binding("escape", "dismiss_none", "Close")]
    DEFAULT_CSS = """
    FormDialog {
        align: center middle;
        & > Vertical {
            width: 74;
            height: auto;
            border: round $border;
            background: $surface;
            padding: 0 1;
        }
        & Horizontal { height: auto; margin-top: 1; }
        & Label { width: 12; padding: 0 1 0 0; }
        & Input { width: 1fr; }
        & #plan { margin-top: 1; height: auto; }
        & #plan.-warning { color: $text-warning; }
        & #plan.-error { color: $text-error; }
        & #dialog-buttons { align-horizontal: right; }
        & Button { margin-left: 2; }
    }
    """

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
