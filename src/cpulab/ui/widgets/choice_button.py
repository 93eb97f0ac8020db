"""A radio button whose mark has a shape as well as a colour, readable under NO_COLOR."""

from __future__ import annotations

from textual.widgets import RadioButton


class ChoiceButton(RadioButton):
    @property
    def BUTTON_INNER(self) -> str:
        return "●" if self.value else "○"
