"""The theme picker previews each theme and puts the first back on Escape; the panels'
borders stay visible in every shipped theme wherever the colours are rounded."""

import math

import pytest
from rich.color import Color, ColorSystem
from textual.geometry import Region
from textual.widgets import OptionList

from cpulab.ui.screens.theme_picker import CURRENT, ThemePicker
from cpulab.ui.themes import ThemeCatalog, shipped_themes_dir
from support.tui import make_app, wait_for

PANELS = ("#tasks", "#about", "#controls", "#cores", "#results", "#chart")
SHIPPED = sorted(path.stem for path in shipped_themes_dir().glob("*.toml"))
# Colours closer than this, as a terminal with the default palette shows them, read as one.
VISIBLE = 40.0


async def open_picker(pilot) -> ThemePicker:
    await pilot.app.run_action("pick_theme")
    # Mounted: the list has the focus.
    await wait_for(pilot, lambda: isinstance(pilot.app.focused, OptionList))
    picker = pilot.app.screen
    assert isinstance(picker, ThemePicker)
    return picker


async def test_the_picker_previews_each_theme_and_escape_puts_the_first_back():
    app = make_app()
    seen = []
    async with app.run_test(size=(120, 40)) as pilot:
        app.theme_changed_signal.subscribe(app, lambda theme: seen.append(theme.name))
        names = app.catalog.names()
        start = app.theme
        picker = await open_picker(pilot)
        themes = picker.query_one(OptionList)
        assert themes.highlighted == names.index(start)
        assert str(themes.get_option(start).prompt).startswith(CURRENT)
        assert not str(themes.get_option(names[1]).prompt).startswith(CURRENT)
        await pilot.press("down")
        await wait_for(pilot, lambda: app.theme == names[names.index(start) + 1])
        await pilot.press("down")
        await wait_for(pilot, lambda: app.theme == names[names.index(start) + 2])
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.screen_stack[0])
        assert app.theme == start
        # Whatever follows theme changes saw each preview, and the way back.
        assert seen == [names[1], names[2], start]


async def test_enter_keeps_the_highlighted_theme():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_picker(pilot)
        await pilot.press("end")
        last = app.catalog.names()[-1]
        await wait_for(pilot, lambda: app.theme == last)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is app.screen_stack[0])
        assert app.theme == last


def distance(a: Color, b: Color, system: ColorSystem) -> float:
    """How far apart two colours are once rounded to `system`, as the default palette
    shows them."""
    return math.dist(a.downgrade(system).get_truecolor(), b.downgrade(system).get_truecolor())


def border_cells(app):
    """Each panel's left border cell, below its title: (character, style)."""
    for selector in PANELS:
        panel = app.query_one(selector)
        strips = panel.render_lines(Region(0, 0, *panel.size))
        first = next(iter(strips[1]))
        yield selector, first.text[0], first.style


@pytest.mark.parametrize("theme", SHIPPED)
async def test_unfocused_borders_differ_from_the_panel_at_256_and_16_colours(theme):
    app = make_app(theme=theme, themes=ThemeCatalog.load((shipped_themes_dir(),)))
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.theme == theme
        app.screen.set_focus(None)  # every panel unfocused
        await pilot.pause()
        for selector, character, style in border_cells(app):
            assert character == "│", selector
            for system in (ColorSystem.TRUECOLOR, ColorSystem.EIGHT_BIT, ColorSystem.STANDARD):
                apart = distance(style.color, style.bgcolor, system)
                assert apart >= VISIBLE, f"{theme} {selector} at {system.name}: {apart:.0f}"


async def test_borders_are_drawn_and_told_apart_under_no_color(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.screen.set_focus(None)
        await pilot.pause()
        for selector, character, style in border_cells(app):
            assert character == "│", selector
            # Textual draws NO_COLOR in greys: the border's is not the panel's.
            assert distance(style.color, style.bgcolor, ColorSystem.TRUECOLOR) >= VISIBLE
