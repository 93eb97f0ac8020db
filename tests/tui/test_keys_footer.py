"""The footer of keys recomposes when the keys it shows change, and only then."""

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Button
from textual.widgets._footer import FooterKey

from cpulab.ui.widgets import KeysFooter


class Deletes(Button):
    BINDINGS = [Binding("d", "delete", "Delete")]

    def action_delete(self) -> None:
        pass


class Keys(App[None]):
    BINDINGS = [Binding("r", "run", "Run"), Binding("x", "hidden", "Hidden", show=False)]

    def compose(self) -> ComposeResult:
        yield Button("one", id="one")
        yield Button("two", id="two")
        yield Deletes("three", id="three")
        yield KeysFooter()

    def action_run(self) -> None:
        pass


async def test_the_footer_recomposes_only_when_a_shown_key_changes(monkeypatch):
    recomposed = []
    original = KeysFooter.recompose

    async def counted(self):
        recomposed.append(self.screen.focused.id if self.screen.focused else None)
        await original(self)

    monkeypatch.setattr(KeysFooter, "recompose", counted)
    app = Keys()
    async with app.run_test() as pilot:
        await pilot.pause()
        footer = app.query_one(KeysFooter)
        recomposed.clear()
        app.query_one("#two").focus()  # the same keys shown: nothing to draw anew
        await pilot.pause()
        assert recomposed == []
        app.query_one("#three").focus()  # d Delete appears
        await pilot.pause()
        assert recomposed == ["three"]
        assert {key.description for key in footer.query(FooterKey)} >= {"Run", "Delete"}
        app.query_one("#one").focus()  # and goes
        await pilot.pause()
        assert recomposed == ["three", "one"]
