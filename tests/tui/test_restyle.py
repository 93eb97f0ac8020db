"""A change of classes that restyles only what rules on those classes select: the widgets
must end styled exactly as Textual's restyle of the whole tree would leave them."""

import pytest
from textual.app import App, ComposeResult
from textual.containers import Vertical
from textual.dom import DOMNode
from textual.widgets import Label, Static

from cpulab.ui.restyle import selected_by_rules_on, update_classes_restyling_selected
from support.tui import make_app


def styled(root: DOMNode) -> dict[str, object]:
    """Each node's rules and its component styles' rules, by its place in the tree."""
    rules: dict[str, object] = {}
    for place, node in enumerate(root.walk_children(with_self=True)):
        own = dict(node.styles.get_rules())
        parts = {name: dict(s.get_rules()) for name, s in node._component_styles.items()}
        rules[f"{place} {node.id or type(node).__name__}"] = (own, parts)
    return rules


@pytest.mark.parametrize("size", [(80, 24), (100, 40), (140, 24), (200, 60)])
async def test_each_view_is_styled_as_a_whole_restyle_would_style_it(size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        main = app.query_one("#main")
        app.query_one("#train").focus()  # a focused field: :focus rules in the tree too
        for view in ("results", "chart", "setup", "chart", "results", "setup"):
            # Not through _show_view, whose move of the focus restyles two panels whole.
            classes = {f"-view-{v}": v == view for v in app.VIEWS}
            update_classes_restyling_selected(main, classes)
            await pilot.pause()
            assert main.has_class(f"-view-{view}")
            shown = styled(main)
            app.update_styles(main)  # Textual's own: every widget under #main
            assert styled(main) == shown, view


class Boxes(App[None]):
    CSS = """
    #box.-on #first { display: none; }
    #box.-on .tinted { color: red; }
    #box.-loud { color: green; }
    """

    def compose(self) -> ComposeResult:
        with Vertical(id="box"):
            yield Label("first", id="first")
            with Vertical(classes="tinted"):
                yield Static("inside the tint", id="inside")
            yield Label("untouched", id="untouched")


async def test_a_rule_beyond_layout_restyles_everything_under_what_it_selects():
    app = Boxes()
    async with app.run_test() as pilot:
        box = app.query_one("#box")
        chosen = selected_by_rules_on(app.stylesheet, box, {"-on"})
        ids = [node.id or type(node).__name__ for node in chosen]
        # The colour is drawn by what is inside the tinted box, so it is restyled too.
        assert ids == ["box", "first", "Vertical", "inside"]
        update_classes_restyling_selected(box, {"-on": True})
        await pilot.pause()
        assert not app.query_one("#first").display
        assert app.query_one("#inside").rich_style.color.triplet == (255, 0, 0)
        update_classes_restyling_selected(box, {"-on": False})
        await pilot.pause()
        assert app.query_one("#first").display
        assert app.query_one("#inside").rich_style.color.triplet != (255, 0, 0)


async def test_a_rule_beyond_layout_on_the_container_itself_reaches_under_it_both_ways():
    # Turned off, #box.-loud no longer matches #box: it must still reach what is inside,
    # whose lines were drawn in its colour.
    app = Boxes()
    async with app.run_test() as pilot:
        box = app.query_one("#box")
        everything = list(box.walk_children(with_self=True))
        for loud in (True, False):
            box.update_classes({"-loud": loud}, update=False)  # as the change has it
            assert selected_by_rules_on(app.stylesheet, box, {"-loud"}) == everything
        for loud in (True, False):
            update_classes_restyling_selected(box, {"-loud": loud})
            await pilot.pause()
            assert (app.query_one("#untouched").rich_style.color.triplet == (0, 128, 0)) is loud
