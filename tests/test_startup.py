"""The `cpulab` command holds the cyclic garbage collector off while it loads, and lets it
run again once the app has drawn its first frame or a command starts its work."""

from __future__ import annotations

import gc
import subprocess
import sys
from importlib.metadata import entry_points

import pytest

from cpulab import cli, startup
from support.tui import make_app


@pytest.fixture(autouse=True)
def collector_as_it_was():
    """Each test leaves the collector on, with nothing frozen, as pytest had it."""
    yield
    startup._held = False
    gc.unfreeze()
    gc.enable()


WATCH_THE_LOAD = """
import gc, runpy, sys

seen = []

class Watch:  # notes whether the collector is on as the command line starts to load
    def find_spec(self, name, path=None, target=None):
        if name == "cpulab.cli":
            seen.append(gc.isenabled())

sys.meta_path.insert(0, Watch())
sys.argv = ["cpulab", "tasks"]
try:
    runpy.run_module("cpulab", run_name="__main__")
except SystemExit as end:
    print("status", end.code, "loaded with it on", seen, "then on", gc.isenabled())
"""


def test_the_console_script_and_python_m_load_with_the_collector_held():
    (script,) = entry_points(group="console_scripts", name="cpulab")
    assert script.value == "cpulab.startup:main"
    done = subprocess.run([sys.executable, "-c", WATCH_THE_LOAD], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "status 0 loaded with it on [False] then on True" in done.stdout


def test_a_command_runs_with_the_collector_on_and_what_loaded_frozen(capsys):
    startup.hold_collector()
    assert not gc.isenabled()
    assert cli.main(["tasks"]) == 0
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0  # what loaded stays out of later passes
    assert "rf-train" in capsys.readouterr().out


def test_the_headless_demo_runs_with_the_collector_on(monkeypatch):
    startup.hold_collector()
    seen = []
    monkeypatch.setattr(cli, "cmd_demo", lambda args: seen.append(gc.isenabled()) or 0)
    assert cli.main([]) == 0  # pytest's standard input is no terminal: the demo
    assert seen == [True]


async def test_the_app_turns_the_collector_on_at_its_first_frame():
    startup.hold_collector()
    app = make_app()
    async with app.run_test() as pilot:
        await pilot.pause()
        assert gc.isenabled()
        assert gc.get_freeze_count() > 0


def test_a_process_that_turned_the_collector_off_itself_keeps_it_off():
    gc.disable()
    startup.hold_collector()
    startup.release_collector()
    assert not gc.isenabled()
    assert gc.get_freeze_count() == 0
