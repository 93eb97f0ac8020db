"""The app's number inputs typed into as a user types: what is shown is replaced, not run on
from; what is no whole number is refused with its reason; core counts beyond the machine
are asked about before anything runs; the sweep dialog starts on Enter from any field and
opens where the last sweep left it."""

import pytest
from textual.widgets import Button, Input, Static

from cpulab.engine.spec import RunOptions
from cpulab.ui.screens import sweep_dialog
from cpulab.ui.screens.sweep_dialog import StrategyList, SweepDialog
from cpulab.ui.widgets import ScalingChart, SplitControl
from cpulab.ui.widgets.split_control import ASKS, CONFIRM, CONFIRMED
from support.tui import ScriptedSupervisor, make_app, make_result, wait_for


def verdict(app) -> str:
    return str(app.query_one("#verdict", Static).render())


def value(app, selector: str) -> str:
    return app.query_one(selector, Input).value


async def focus_train(pilot) -> None:
    pilot.app.query_one("#train").focus()  # as tab or Enter on a task does
    await pilot.pause()


# The split inputs


async def test_a_focused_split_input_is_replaced_by_what_is_typed_even_after_a_run():
    app = make_app(supervisor=ScriptedSupervisor())
    # Where every panel fits: smaller, a run shows the results view, focused.
    async with app.run_test(size=(120, 40)) as pilot:
        await focus_train(pilot)
        await pilot.press("2")
        assert value(app, "#train") == "2"
        await pilot.press("r")  # an app key, from the focused input
        await wait_for(pilot, lambda: app.running)
        await pilot.press("c")
        await wait_for(pilot, lambda: not app.running)
        assert app.focused.id == "train"
        await pilot.press("1")
        assert value(app, "#train") == "1"  # not 21
        await pilot.press("up", "up")  # a step leaves the number whole as well
        assert value(app, "#train") == "3"
        await pilot.press("2")
        assert value(app, "#train") == "2"
        await pilot.press("tab", "shift+tab")  # and focus selects it again
        await pilot.press("4")
        assert value(app, "#train") == "4"


@pytest.mark.parametrize("typed", ["1.5", "1,5", "1e3", "+2"])
async def test_what_is_no_whole_number_is_refused_as_it_is_typed(typed):
    supervisor = ScriptedSupervisor()
    app = make_app(supervisor=supervisor)
    async with app.run_test(size=(100, 30)) as pilot:
        await focus_train(pilot)
        await pilot.press(*typed)
        assert value(app, "#train") == typed  # shown as typed, not 15
        control = app.query_one(SplitControl)
        assert control.split is None
        assert control.problem == f"training cores: whole numbers only, not {typed!r}"
        assert verdict(app).startswith("✗ training cores: whole numbers only")
        assert app.query_one("#train", Input).has_class("-invalid")
        assert app.query_one("#run", Button).disabled
        await pilot.press("r")
        await pilot.pause()
        assert supervisor.specs == []
        await pilot.press(*["backspace"] * len(typed), "2")
        assert control.split is not None and control.split.train == 2
        assert not app.query_one("#train", Input).has_class("-invalid")


async def test_a_letter_bound_to_an_app_key_acts_and_any_other_is_typed():
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await focus_train(pilot)
        await pilot.press("s")  # the chart's time/speedup key
        assert app.query_one(ScalingChart).speedup
        assert value(app, "#train") == "1"
        await pilot.press("e")
        assert value(app, "#train") == "e"
        assert "whole numbers only" in verdict(app)


async def test_keys_that_act_on_the_results_are_typed_in_a_count_not_acted_on():
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        # A result of this session in the table, its row selected.
        app.workspace.add(app._session_entry(make_result("rf-train", 1, 1, 2.0)))
        app._show_results()
        await wait_for(pilot, lambda: len(app.results) == 1)
        shown = list(app._shown)
        await focus_train(pilot)
        typed = (("x", "clear"), ("h", "hide"), ("d", "delete"), ("u", "undo"), ("l", "timeline"))
        for letter, action in typed:
            await pilot.press("2", letter)  # as "2x2" is typed, say
            await pilot.pause()
            assert value(app, "#train") == f"2{letter}", action
            assert f"whole numbers only, not '2{letter}'" in verdict(app)
            assert app._shown == shown and app.screen is app.screen_stack[0], action
            await pilot.press("backspace", "backspace")


async def test_a_split_beyond_the_cores_runs_only_once_confirmed():
    app = make_app(cores=2)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("down", "enter")  # cv-eval, then its training cores
        await pilot.press("tab", "4")
        control = app.query_one(SplitControl)
        assert control.beyond_cores == "4 evaluation cores is more than the 2 cores available"
        assert "⚠ oversubscribed 2.0x" in verdict(app) and ASKS in verdict(app)
        assert not control.confirm_run()  # the first run asks
        assert CONFIRM in verdict(app)
        assert control.confirm_run()  # the second goes ahead
        assert CONFIRMED in verdict(app) and CONFIRM not in verdict(app)  # not asked again
        assert control.confirm_run()  # and the split stays confirmed
        await pilot.press("backspace", "3")  # another split is asked about afresh
        assert ASKS in verdict(app)
        assert not control.confirm_run()
        await pilot.press("backspace", "2")  # within the cores: nothing to confirm
        assert control.beyond_cores is None and control.confirm_run()
        assert "⚠" not in verdict(app)


async def test_r_twice_runs_a_split_beyond_the_cores():
    supervisor = ScriptedSupervisor()
    app = make_app(cores=2, supervisor=supervisor)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("down", "enter", "tab", "4")  # cv-eval, 1 x 4 on 2 cores
        await pilot.press("r")
        await pilot.pause()
        assert not app.running and CONFIRM in verdict(app)
        await pilot.press("r")
        await wait_for(pilot, lambda: app.running)
        assert [(s.train, s.eval) for s in supervisor.specs] == [(1, 4)]


async def test_the_split_within_the_cores_runs_at_once():
    supervisor = ScriptedSupervisor()
    app = make_app(cores=2, supervisor=supervisor)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("down", "enter", "tab", "2", "r")
        await wait_for(pilot, lambda: app.running)
        assert [(s.train, s.eval) for s in supervisor.specs] == [(1, 2)]


# The sweep dialog


def plan(dialog: SweepDialog) -> str:
    return str(dialog.query_one("#plan", Static).render())


async def open_dialog(pilot) -> SweepDialog:
    await pilot.press("w")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, SweepDialog))
    await pilot.pause()
    return pilot.app.screen


def swept(supervisor: ScriptedSupervisor) -> list[list[tuple[int, int]]]:
    return [[(p.train, p.eval) for p in spec.points] for spec in supervisor.specs]


async def test_enter_on_the_strategy_list_starts_with_the_strategy_the_arrows_chose():
    supervisor = ScriptedSupervisor()
    app = make_app(cores=2, supervisor=supervisor)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("down")  # cv-eval: eval, train and grid
        dialog = await open_dialog(pilot)
        strategies = dialog.query_one(StrategyList)
        assert strategies.chosen == "eval" and "1 x 1, 1 x 2" in plan(dialog)
        await pilot.press("tab", "down", "down")
        assert strategies.chosen == "grid" and strategies.pressed_button.name == "grid"
        assert "3 points, 4 runs each: 1 x 1, 1 x 2, 2 x 1" in plan(dialog)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.running)
        assert swept(supervisor) == [[(1, 1), (1, 2), (2, 1)]]


@pytest.mark.parametrize("field", ["#sweep-cores", "#sweep-repeats", "#sweep-warmup"])
async def test_enter_in_any_field_starts_the_sweep(field):
    supervisor = ScriptedSupervisor()
    app = make_app(cores=2, supervisor=supervisor)
    async with app.run_test(size=(120, 40)) as pilot:
        dialog = await open_dialog(pilot)
        dialog.query_one(field).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.running)
        assert swept(supervisor) == [[(1, 1), (2, 1)]]


async def test_a_sweep_beyond_the_cores_warns_with_its_points_and_starts_on_a_second_enter():
    supervisor = ScriptedSupervisor()
    app = make_app(cores=2, supervisor=supervisor)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("down")  # cv-eval
        dialog = await open_dialog(pilot)
        await pilot.press(*"1-8")  # typed over the selected pow2
        await pilot.press("tab", "down", "down")  # grid
        warning = (
            "⚠ Core counts 3 to 8 are more than the 2 cores available: 17 of 20 points "
            "would be oversubscribed."
        )
        text = " ".join(plan(dialog).split())
        assert text.startswith("20 points, 4 runs each")
        assert f"{warning} {sweep_dialog.ASKS}" in text
        assert dialog.query_one("#plan").has_class("-warning")
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is dialog and not app.running
        assert f"{warning} {sweep_dialog.CONFIRM}" in " ".join(plan(dialog).split())
        await pilot.press("shift+tab", "end", "backspace", "3")  # 1-3: asked afresh
        assert sweep_dialog.ASKS in " ".join(plan(dialog).split())
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is dialog
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.running)
        assert swept(supervisor) == [[(1, 1), (1, 2), (2, 1), (1, 3), (3, 1)]]


async def test_the_dialog_asks_even_where_the_cap_is_lifted():
    app = make_app(cores=2, options=RunOptions(allow_oversubscribe=True))
    async with app.run_test(size=(120, 40)) as pilot:
        dialog = await open_dialog(pilot)
        await pilot.press(*"1-100")
        assert "100 points" in plan(dialog) and "98 of 100 points" in plan(dialog)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is dialog and not app.running


async def test_a_repeat_count_that_is_no_whole_number_says_so():
    app = make_app(cores=2)
    async with app.run_test(size=(120, 40)) as pilot:
        dialog = await open_dialog(pilot)
        await pilot.press("tab", "tab", *"2.5")
        assert plan(dialog) == "✗ repeats: whole numbers only, not '2.5'"
        assert dialog.query_one("#sweep-start", Button).disabled
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is dialog


async def test_the_dialog_opens_with_the_last_sweeps_cores_and_strategy():
    supervisor = ScriptedSupervisor()
    app = make_app(cores=2, supervisor=supervisor)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("down")  # cv-eval
        dialog = await open_dialog(pilot)
        await pilot.press(*"1,2", "tab", "down")  # train
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.running)
        await pilot.press("c")
        await wait_for(pilot, lambda: not app.running)
        await pilot.pause()
        while len(app.screen_stack) > 1:  # the sweep's summary
            await pilot.press("escape")

        dialog = await open_dialog(pilot)
        strategies = dialog.query_one(StrategyList)
        assert dialog.query_one("#sweep-cores", Input).value == "1,2"
        assert strategies.chosen == "train" and strategies.pressed_button.name == "train"
        await pilot.press("escape")  # closing keeps the last sweep's, not what was typed
        await pilot.press("up")  # rf-train: no evaluation knob, train is still usable
        dialog = await open_dialog(pilot)
        assert dialog.query_one(StrategyList).chosen == "train"
        await pilot.press("escape")
        await pilot.press("down", "down", "down", "down", "down")  # digits-svc: eval only
        dialog = await open_dialog(pilot)
        assert dialog.query_one(StrategyList).chosen == "eval"  # its own default

    another = make_app(cores=2)  # another app starts from the defaults
    async with another.run_test(size=(120, 40)) as pilot:
        await pilot.press("down")
        dialog = await open_dialog(pilot)
        assert dialog.query_one("#sweep-cores", Input).value == "pow2"
        assert dialog.query_one(StrategyList).chosen == "eval"


async def test_marks_show_their_state_by_shape_not_by_colour_alone():
    from textual.app import App, ComposeResult

    from cpulab.ui.widgets import ChoiceButton, TickBox

    class Marks(App):
        def compose(self) -> ComposeResult:
            yield TickBox("ticked", True, id="on")
            yield TickBox("not ticked", False, id="off")
            yield ChoiceButton("chosen", True, id="chosen")

    app = Marks()
    async with app.run_test(size=(40, 6)) as pilot:
        await pilot.pause()
        drawn = {w.id: str(w.render()) for w in app.query("TickBox, ChoiceButton")}
        assert drawn["on"].startswith("▐X▌") and drawn["off"].startswith("▐ ▌")
        assert drawn["chosen"].startswith("▐●▌")
        app.query_one("#off", TickBox).value = True
        await pilot.pause()
        assert str(app.query_one("#off", TickBox).render()).startswith("▐X▌")
