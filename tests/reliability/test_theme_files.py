"""Every kind of theme file cpulab cannot use, all at once in the user's theme folder.

A theme is not worth refusing to start over: the app opens, says in one notification per
file what is wrong with it, falls back to its own theme, and cycles through every theme it
has without a crash. The command line still checks --theme in one line.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cpulab.ui.screens.theme_picker import ThemePicker
from support.themes import BROKEN_THEMES
from support.tui import make_app, sampled, wait_for

OTHER_BROKEN_FILES = {
    "folder": "Is a directory",
    "loop": "Too many levels of symbolic links",
    "binary": "codec can't decode byte 0xff",
}


def fill_with_broken_themes(themes: Path) -> dict[str, str]:
    """Write every broken theme file; returns file stem -> the reason the app must give."""
    themes.mkdir(parents=True)
    reasons = {}
    for number, (text, reason) in enumerate(BROKEN_THEMES):
        (themes / f"broken-{number}.toml").write_text(text)
        reasons[f"broken-{number}"] = reason
    (themes / "folder.toml").mkdir()
    (themes / "loop.toml").symlink_to("loop.toml")
    (themes / "binary.toml").write_bytes(b"\xff\xfe")
    return {**reasons, **OTHER_BROKEN_FILES}


# Sound, but with a colour the stylesheet reads and a chart cannot draw in.
AUTO_COLOUR = 'name = "auto-muted"\nprimary = "#336699"\n[variables]\nforeground-muted = "auto"\n'


async def test_the_app_reports_each_broken_theme_file_and_cycles_every_theme(user_config):
    reasons = fill_with_broken_themes(user_config / "themes")
    (user_config / "themes" / "auto-muted.toml").write_text(AUTO_COLOUR)
    app = make_app(theme="broken-0")
    async with app.run_test(size=(100, 30)) as pilot:
        await sampled(pilot)
        assert app.theme == "cpulab-dark"
        messages = [n.message for n in app._notifications]
        for stem, reason in reasons.items():
            (message,) = [m for m in messages if f"{stem}.toml" in m]
            assert reason in message
        assert "Theme 'broken-0' could not be used; showing cpulab-dark." in messages
        assert "auto-muted" in app.catalog.names()
        await pilot.press("t")  # the picker previews each theme in turn
        await wait_for(pilot, lambda: isinstance(app.screen, ThemePicker) and app.screen.focused)
        for name in app.catalog.names()[1:]:
            await pilot.press("down")
            await pilot.pause()
            assert app.theme == name
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ThemePicker))
        assert app.theme == "cpulab-dark"


def test_the_command_line_checks_the_theme_name_despite_broken_files(user_config):
    fill_with_broken_themes(user_config / "themes")
    out = subprocess.run(
        [sys.executable, "-m", "cpulab", "--theme", "nosuch"],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 2
    assert out.stderr.startswith("cpulab: error: argument --theme: unknown theme 'nosuch'")
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
