"""Widgets that hand Textual the same lines again until they are repainted.

A partial frame renders, whole, every widget whose container meets what changed
(Textual's `Compositor._get_renders` tests each widget's clip, not its region): the
screen, the header and the footer (their container is the screen), and each container on
the way down to the core grid, at every sample of a run. Their lines are only their
background and borders, yet each render of them works out their colours from every
ancestor and passes each line through the styles cache and the app's filters: about
0.1 ms a widget, half of a frame's 1.3 ms. These keep the lines of their last renders,
by crop, for the same filters, until Textual marks them dirty.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import events
from textual.containers import Horizontal, Vertical
from textual.geometry import Region
from textual.screen import Screen
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Header

# Not a DOMNode at run time: Textual takes a class's CSS (its type name and default
# styles) from the first base that is one, which must stay the widget's own class.
if TYPE_CHECKING:
    _Mixin = Widget
else:
    _Mixin = object


class KeptLines(_Mixin):
    """Keeps its rendered lines until Textual marks it dirty. Mixed in before the widget
    class; for widgets that change what they show only through a refresh, as Textual's
    own line cache already assumes."""

    # A few crops, the last used kept: a frame asks for the whole widget, and each move
    # of the mouse over it for the one line under the pointer (Screen.get_style_at).
    KEPT_CROPS = 4
    _kept: dict[Region, list[Strip]] | None = None
    _kept_filters: tuple[object, ...] = ()

    def render_lines(self, crop: Region) -> list[Strip]:
        filters = tuple(self.get_line_filters())
        kept = self._kept
        if kept is None or filters != self._kept_filters:
            kept = self._kept = {}
            self._kept_filters = filters
        lines = kept.pop(crop, None)
        if lines is None:
            if len(kept) >= self.KEPT_CROPS:
                del kept[next(iter(kept))]  # the least recently used
            lines = super().render_lines(crop)
        kept[crop] = lines  # the last used, last
        return lines

    # Every repaint, resize and change of style reaches the widget's styles cache through
    # here (Textual's refresh, size update, style properties and reset_styles).
    def _set_dirty(self, *regions: Region) -> None:
        self._kept = None
        super()._set_dirty(*regions)

    def notify_style_update(self) -> None:
        self._kept = None
        super().notify_style_update()


class KeptHorizontal(KeptLines, Horizontal):
    """A Horizontal container that keeps its lines."""


class KeptVertical(KeptLines, Vertical):
    """A Vertical container that keeps its lines."""


class KeptHeader(KeptLines, Header):
    """Textual's Header, keeping its own lines (its title and icon are widgets of their
    own)."""


class KeptScreen(KeptLines, Screen[None]):
    """A screen that keeps its background's lines, and styles its widgets once as the app
    starts."""

    _resumed = False

    def _on_screen_resume(self, event: events.ScreenResume) -> None:
        # Called before Screen's own handler, which restyles every widget at each resume.
        # The first comes as the app starts, its widgets styled moments before as each was
        # mounted: styling them all again was a seventh of the time to the first frame.
        if not self._resumed:
            self._resumed = True
            event.refresh_styles = False
