"""The app asks before a run that the stored results predict to need more memory than
the machine lets a run use: the first r says so with the figure, a second r runs it."""

from __future__ import annotations

from textual.widgets import Input

from cpulab.engine.machine import machine_facts
from cpulab.engine.store import ResultStore
from support.tui import ScriptedSupervisor, make_app, make_result, wait_for

TiB = 1 << 40


async def test_a_run_predicted_beyond_the_memory_asks_first(tmp_path):
    with ResultStore.open(tmp_path / "history.sqlite") as store:
        for eval_ in (1, 2):  # 100 TiB + 1 TiB a worker: beyond any machine
            memory = {"runner_uss": 1, "worker_uss": [TiB] * eval_, "total_pss": 100 * TiB}
            memory["total_pss"] += TiB * (eval_ if eval_ > 1 else 0)
            store.add_point(
                make_result("cv-eval", 1, eval_, 1.0, machine=machine_facts(), memory=memory)
            )
        supervisor = ScriptedSupervisor()
        app = make_app(store=store, supervisor=supervisor)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("down")  # cv-eval
            app.query_one("#eval", Input).value = "2"
            await pilot.pause()
            await pilot.press("r")
            await pilot.pause()
            assert supervisor.specs == [] and not app.running
            said = [n.message for n in app._notifications if n.title == "Not enough memory"]
            assert len(said) == 1
            assert said[0].startswith("cv-eval at 1 x 2 would need about 102 TiB (100 TiB + 1 TiB")
            assert said[0].endswith("Run again (r) to go ahead.")
            await pilot.press("r")
            await wait_for(pilot, lambda: len(supervisor.specs) == 1)
            assert supervisor.specs[0].eval == 2
