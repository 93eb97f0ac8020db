"""The footer of keys, drawn anew only when the keys it shows change."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import events
from textual.widgets import Footer

from cpulab.ui.widgets.kept_lines import KeptLines

if TYPE_CHECKING:
    from textual.screen import Screen


class KeysFooter(KeptLines, Footer):
    """Textual's Footer recomposes whenever its screen's bindings are refreshed, which
    every move of the focus does, whether or not a key it shows changed. A run's start
    at 80x24 moves the focus twice (the set-up panels give way to the results), and each
    recompose laid the screen out again: about 17 ms, beside an experiment that wants
    every core. This one recomposes only when a shown key, its description, or whether
    it is enabled changes. Its own lines are kept between frames too (KeptLines): a
    frame renders it whole whatever changed on the screen."""

    _shown: tuple[object, ...] | None = None
    ROOMY = 110  # columns from which the keys have their spacing; narrower, compact

    def on_resize(self, event: events.Resize) -> None:
        self.compact = event.size.width < self.ROOMY

    def bindings_changed(self, screen: Screen) -> None:
        palette = screen.app.COMMAND_PALETTE_BINDING  # shown on the right, though not `show`
        shown = tuple(
            (binding, enabled, tooltip)
            for key, (_, binding, enabled, tooltip) in screen.active_bindings.items()
            if binding.show or key == palette
        )
        if self._bindings_ready and shown == self._shown:
            return
        super().bindings_changed(screen)
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            self._shown = shown  # recomposing now, with these
