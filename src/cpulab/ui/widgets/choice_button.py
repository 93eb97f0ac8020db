"""Radio buttons and checkboxes whose marks have a shape as well as a colour, readable
under NO_COLOR and by anyone who cannot tell the colours apart."""

from __future__ import annotations

from textual.widgets import Checkbox, RadioButton


class ChoiceButton(RadioButton):
    # Textual reads BUTTON_INNER at every render and types it as a plain attribute; a
    # property lets the mark follow the value.
    @property
    def BUTTON_INNER(self) -> str:  # type: ignore[override]
        return "●" if self.value else "○"


class TickBox(Checkbox):
    """A checkbox ticked "X" when on and blank when off (Textual's draws an X in both, in
    two colours)."""

    @property
    def BUTTON_INNER(self) -> str:  # type: ignore[override]
        return "X" if self.value else " "
