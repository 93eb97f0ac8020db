"""A radio button whose mark has a shape as well as a colour, readable under NO_COLOR."""

from __future__ import annotations

from textual.widgets import RadioButton


class ChoiceButton(RadioButton):
    # Textual reads BUTTON_INNER at every render and types it as a plain attribute; a
    # property lets the mark follow the value.
    @property
    def BUTTON_INNER(self) -> str:  # type: ignore[override]
        return "●" if self.value else "○"
