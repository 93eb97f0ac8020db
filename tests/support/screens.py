"""A bare app that shows one screen, and the text a screen's widgets draw."""

from __future__ import annotations

from textual.app import App
from textual.geometry import Region
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Static


class ScreenHost(App[None]):
    """Pushes `screen` over an empty one, with no animations."""

    def __init__(self, screen: Screen) -> None:
        super().__init__()
        self.shown = screen
        self.animation_level = "none"

    def on_mount(self) -> None:
        self.push_screen(self.shown)


def drawn_text(widget: Widget) -> str:
    """What the widget draws at its laid-out size, scrolled into view or not."""
    width, height = widget.size
    strips = widget.render_lines(Region(0, 0, width, height))
    return "\n".join(strip.text.rstrip() for strip in strips)


def screen_text(screen: Screen) -> str:
    return "\n".join(drawn_text(widget) for widget in screen.query(Static))


def words(text: str) -> str:
    """Text with each run of spaces and line breaks as one space: a wrapped value reads
    as one line again."""
    return " ".join(text.split())
