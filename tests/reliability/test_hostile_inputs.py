"""What hostile users tried: worker counts far above the machine, numbers in other scripts,
numbers too big for SQLite or C, paths the system refuses, files that never end or never
open, output nobody can take, Ctrl-C before anything started, and a terminal that cannot
draw the app. Each is bad input (one line, exit status 2, no file changed) or ends as
quietly as it should, in a real `cpulab` process.
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import Input, Static

from cpulab.engine.backends import DaskTarget
from cpulab.engine.cores import CoreSplit, resolve_n_jobs, whole_number
from cpulab.engine.errors import UsageError
from cpulab.engine.spec import RunOptions, RunSpec
from cpulab.engine.store import ResultStore
from cpulab.engine.sweep import SweepPlan, parse_cores
from cpulab.engine.tasks import CATALOGUE
from cpulab.ui.themes import ThemeCatalog
from cpulab.ui.widgets import SplitControl
from support.bad_input import Bad, bad, case_id, check_refused, directory
from support.tui import make_app

HUGE = "99999999999999999999999"  # beyond SQLite's integers and C's
ENDLESS = "9" * 5000  # beyond the digits int() reads
LONG_NAME = "a" * 300  # beyond the 255 bytes a file name may have
ARABIC_INDIC_12 = "\u0661\u0662"  # digits int() reads as 12
FULLWIDTH_1 = "\uff11"
# Two available cores whatever the machine has (fewer only where it has one).
TWO_CORES = {"LOKY_MAX_CPU_COUNT": "2"}
FLAG = "(--allow-oversubscribe lifts this limit)"


def fifo(path: Path) -> None:
    os.mkfifo(path)


def big_task_file(path: Path) -> None:
    path.write_text("def cpulab_task(setting):\n    pass\n" + "#" * (2 << 20))


def link_to_dev_zero(path: Path) -> None:
    path.symlink_to("/dev/zero")


def nested_5000_deep(path: Path) -> None:
    path.write_text('name = "deep"\nprimary = "#123456"\na = ' + "[" * 5000 + "]" * 5000 + "\n")


def theme_folder(make: Callable[[Path], None]) -> Callable[[Path], None]:
    """A user config directory whose theme "mine" is made by `make`."""

    def make_config(path: Path) -> None:
        themes = path / "cpulab" / "themes"
        themes.mkdir(parents=True)
        make(themes / "mine.toml")

    make_config.__name__ = f"theme_{make.__name__}"
    return make_config


def hostile(*args: str, says: str, env=None, make=None, name="given") -> Bad:
    return bad(*args, says=says, env={**TWO_CORES, **(env or {})}, make=make, name=name)


TOO_MANY_WORKERS = [
    hostile("run", "cv-eval", "--eval", "200", says="200 evaluation cores is too many for"),
    hostile("run", "cv-eval", "--train", "200", says="200 training cores is too many for"),
    hostile("run", "cv-eval", "--train", "3", "--eval", "3", says="3 x 3 = 9 cores is too many"),
    hostile("sweep", "rf-train", "--cores", "4096", says="4096 cores is too many for"),
    hostile("sweep", "cv-eval", "--cores", "1-9", says="9 cores is too many for"),
    # The largest count names the problem, not the first one past the cap.
    hostile("sweep", "cv-eval", "--cores", "1-4096", says="4096 cores is too many for"),
    hostile("run", "cv-eval", "--blas-threads", "9", says="9 BLAS threads is too many for"),
    hostile("run", "cv-eval", "--dask", "local:999",
            says="a local Dask cluster of 999 workers is too many for"),
    hostile("run", "cv-eval", "--dask", "local:3",
            says="a local Dask cluster of 3 workers is too many for"),
    # The demo off a terminal honours the app's options, the flag's absence included.
    hostile("--blas-threads", "9", says="9 BLAS threads is too many for"),
    # Allowed past the cap, still never past any machine.
    hostile("run", "cv-eval", "--eval", "5000", "--allow-oversubscribe",
            says="5000 evaluation cores is beyond any machine: the most is 4096"),
    hostile("--allow-oversubscribe", "sweep", "rf-train", "--cores", "5000",
            says="5000 cores is beyond any machine: the most is 4096"),
]  # fmt: skip

NOT_ASCII_DIGITS = [
    hostile("run", "cv-eval", "--eval", ARABIC_INDIC_12,
            says=f"must be a whole number of cores, not {ARABIC_INDIC_12!r}"),
    hostile("run", "cv-eval", "--train", FULLWIDTH_1,
            says=f"must be a whole number of cores, not {FULLWIDTH_1!r}"),
    hostile("run", "cv-eval", "--eval", "1_0", says="must be a whole number of cores, not '1_0'"),
    hostile("run", "cv-eval", "--eval", " +3", says="must be a whole number of cores, not ' +3'"),
    hostile("run", "cv-eval", "--repeats", FULLWIDTH_1,
            says=f"expected a whole number, not {FULLWIDTH_1!r}"),
    hostile("sweep", "cv-eval", "--warmup", " +3", says="expected a whole number, not ' +3'"),
    hostile("run", "cv-eval", "--blas-threads", "1_0", says="expected a whole number, not '1_0'"),
    hostile("run", "cv-eval", "--dask", f"local:{FULLWIDTH_1}",
            says="local:N takes a number of workers"),
    hostile("sweep", "cv-eval", "--cores", ARABIC_INDIC_12,
            says=f"cannot read core count {ARABIC_INDIC_12!r}"),
    hostile("sweep", "cv-eval", "--cores", f"1-{ARABIC_INDIC_12}",
            says=f"cannot read core count '1-{ARABIC_INDIC_12}'"),
]  # fmt: skip

OVERFLOWING = [
    hostile("history", "--machine", HUGE,
            says=f"there is no machine {HUGE}: machine ids go up to 9223372036854775807"),
    hostile("export", "--machine", HUGE, says=f"there is no machine {HUGE}"),
    hostile("history", "--machine", ENDLESS, says="there is no machine 999"),
    # Leading zeros count for nothing, however many: int() alone gives up past 4,300 digits.
    hostile("sweep", "rf-train", "--cores", "0" * 5000 + "9", says="9 cores is too many for"),
    hostile("history", "--machine", "0" * 5000 + HUGE, says=f"there is no machine {HUGE}:"),
    hostile("compare", "0" * 5000 + HUGE, "1", says=f"there is no sweep #{HUGE}: sweep ids"),
    hostile("compare", "run:" + "0" * 5000, "run:1", says="run ids start at 1, not 0"),
    hostile("show", "0" * 5000 + HUGE, says=f"there is no stored result #{HUGE}: result ids"),
    hostile("run", "cv-eval", "--repeats", HUGE, says=f"repeats must be at most 10000, not {HUGE}"),
    hostile("sweep", "cv-eval", "--repeats", HUGE, says="repeats must be at most 10000"),
    hostile("sweep", "cv-eval", "--warmup", HUGE, says="warm-up runs must be at most 10000"),
    hostile("run", "cv-eval", "--eval", HUGE, says=f"{HUGE} evaluation cores is beyond any"),
    hostile("run", "cv-eval", "--blas-threads", HUGE, says=f"{HUGE} BLAS threads is beyond"),
    hostile("run", "cv-eval", "--dask", f"local:{HUGE}", says="takes 1 to 1024 workers"),
    hostile("run", "cv-eval", "--train", ENDLESS, says="is far too large a number"),
    hostile("run", "cv-eval", "--repeats", ENDLESS, says="is far too large a number"),
    hostile("sweep", "cv-eval", "--cores", f"1-{ENDLESS}", says="is far too large a number"),
]  # fmt: skip

PATHS = [
    hostile("history", "--db", "~nouser-of-cpulab/x.db",
            says="cannot find the home directory of ~nouser-of-cpulab in ~nouser-of-cpulab/x.db"),
    hostile("history", env={"CPULAB_DB": "~nouser-of-cpulab/x.db"},
            says="cannot find the home directory of ~nouser-of-cpulab"),
    # In a folder that exists: a missing one is what the system reports first.
    hostile("history", "--db", f"{{file}}/{LONG_NAME}/x.db", make=directory,
            says="File name too long"),
    hostile("run", "rf-train", env={"CPULAB_DB": f"{{file}}/{LONG_NAME}"}, make=directory,
            says="File name too long"),
    hostile("tasks", "--task-file", f"{{file}}/{LONG_NAME}.py", make=directory,
            says="File name too long"),
    hostile("--theme", "mine", env={"XDG_CONFIG_HOME": f"{{file}}/{LONG_NAME}"},
            make=directory, says="argument --theme: unknown theme 'mine'"),
]  # fmt: skip

UNBOUNDED = [
    hostile("tasks", "--task-file", "/dev/zero",
            says="/dev/zero: cannot read it: it is a character device, not a regular file"),
    hostile("run", "--task-file", "{file}", make=fifo, name="pipe.py",
            says="pipe.py: cannot read it: it is a named pipe, not a regular file"),
    hostile("tasks", "--task-file", "{file}", make=big_task_file, name="big.py",
            says="big.py: cannot read it: it is larger than 1 MiB"),
    hostile("--theme", "mine", env={"XDG_CONFIG_HOME": "{file}"},
            make=theme_folder(link_to_dev_zero), name="config",
            says="mine.toml: it is a character device, not a regular file"),
    hostile("--theme", "mine", env={"XDG_CONFIG_HOME": "{file}"},
            make=theme_folder(fifo), name="config",
            says="mine.toml: it is a named pipe, not a regular file"),
    hostile("--theme", "mine", env={"XDG_CONFIG_HOME": "{file}"},
            make=theme_folder(nested_5000_deep), name="config",
            says="mine.toml: it is nested too deeply to read"),
]  # fmt: skip


def cpulab(*args: str, env=None, stdout=subprocess.PIPE) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cpulab", *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,  # a read that never ends, or an open that never returns, fails here
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize(
    "case", TOO_MANY_WORKERS + NOT_ASCII_DIGITS + OVERFLOWING + PATHS + UNBOUNDED, ids=case_id
)
def test_hostile_input_is_one_line_and_status_2_and_changes_no_file(case, good_store, tmp_path):
    check_refused(case, tmp_path)


def test_the_cap_names_the_flag_that_lifts_it():
    out = cpulab("run", "cv-eval", "--eval", "200", env=TWO_CORES)
    assert out.stderr.rstrip().endswith(FLAG)


def test_allow_oversubscribe_runs_past_the_cap(results_store):
    out = cpulab(
        "run", "rf-train", "--train", "9", "--allow-oversubscribe", "--json", env=TWO_CORES
    )
    assert out.returncode == 0, out.stderr
    with ResultStore.open(results_store) as store:
        (stored,) = store.points()
    assert stored.result.train == 9 and "oversubscribed" in stored.result.flags


# The rule in the engine, as the app meets it too.


@pytest.mark.parametrize("text", [ARABIC_INDIC_12, FULLWIDTH_1, "1_0", " +3", "+3", "3.0", "", "-"])
def test_only_ascii_digits_are_numbers(text):
    assert whole_number(text) is None
    with pytest.raises(UsageError, match="whole number of cores"):
        resolve_n_jobs(text, 2)


def test_ascii_numbers_read_as_before():
    assert [whole_number(t) for t in ("3", " 12 ", "-1", "007")] == [3, 12, -1, 7]
    assert parse_cores("1-3,8", 2) == (1, 2, 3, 8)
    assert DaskTarget.parse("local:2").local_workers == 2
    with pytest.raises(UsageError, match="far too large"):
        whole_number(ENDLESS)


@pytest.mark.parametrize(
    ("train", "eval", "says"),
    [
        (9, 1, "9 training cores is too many for the 2 cores available: the most is 8"),
        (1, 9, "9 evaluation cores is too many"),
        (3, 3, "3 x 3 = 9 cores is too many"),
    ],
)
def test_a_split_past_four_per_core_is_refused_unless_allowed(train, eval, says):
    task = CATALOGUE["cv-eval"]
    split = CoreSplit.resolve(train, eval, available=2)
    with pytest.raises(UsageError, match=f"^{says}.*--allow-oversubscribe lifts this limit"):
        RunSpec.for_task(task, split)
    allowed = RunSpec.for_task(task, split, options=RunOptions(allow_oversubscribe=True))
    assert (allowed.train, allowed.eval) == (train, eval)
    assert "allow_oversubscribe" not in allowed.options.to_dict()  # no part of a result
    RunSpec.for_task(task, CoreSplit.resolve(4, 2, available=2))  # 8: at the cap, allowed


def test_a_sweep_past_four_per_core_is_refused_unless_allowed():
    plan = SweepPlan(
        task=CATALOGUE["rf-train"], scale="small", strategy="train", cores=(1, 16),
        repeats=1, warmup=0, available=2,
    )  # fmt: skip
    with pytest.raises(UsageError, match=r"^16 cores is too many"):
        plan.spec()
    allowed = SweepPlan(**{**vars(plan), "options": RunOptions(allow_oversubscribe=True)})
    assert len(allowed.spec().points) == 2


async def test_the_split_control_applies_the_same_cap():
    async def typed(app, pilot, text: str) -> str:
        field = app.query_one("#eval", Input)
        field.focus()
        field.clear()
        await pilot.press(*text)
        return str(app.query_one("#verdict", Static).render())

    app = make_app(cores=2)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("down")  # cv-eval, which has evaluation cores
        assert "the most is 8" in await typed(app, pilot, "9")
        assert app.query_one(SplitControl).split is None
        assert "oversubscribed" in await typed(app, pilot, "8")
    allowed = make_app(cores=2, options=RunOptions(allow_oversubscribe=True))
    async with allowed.run_test(size=(100, 30)) as pilot:
        await pilot.press("down")
        assert "oversubscribed" in await typed(allowed, pilot, "9")
        assert allowed.query_one(SplitControl).split.eval == 9


def test_broken_theme_files_in_the_folder_are_each_that_themes_problem(user_config):
    themes = user_config / "themes"
    themes.mkdir(parents=True)
    link_to_dev_zero(themes / "zero.toml")
    fifo(themes / "pipe.toml")
    nested_5000_deep(themes / "deep.toml")
    (themes / "huge.toml").write_text('name = "huge"\nprimary = "#123456"\n' + "#" * (2 << 20))
    (themes / "fine.toml").write_text('name = "fine"\nprimary = "#123456"\n')

    catalog = ThemeCatalog.load()

    assert "fine" in catalog.themes
    assert catalog.problems["zero"].endswith("it is a character device, not a regular file")
    assert catalog.problems["pipe"].endswith("it is a named pipe, not a regular file")
    assert catalog.problems["deep"].endswith("it is nested too deeply to read")
    assert catalog.problems["huge"].endswith("it is larger than 1 MiB")


# Output nobody can take: the result is stored all the same.


def test_a_full_disk_for_output_is_one_line(good_store):
    with open("/dev/full", "w") as full:
        listed = cpulab("tasks", stdout=full)
    assert listed.returncode == 2
    assert listed.stderr == "cpulab: error: cannot write the output: No space left on device\n"


@pytest.mark.parametrize("args", [("--help",), ("--version",), ("export", "--help")], ids=" ".join)
def test_help_or_a_version_that_cannot_be_written_is_one_line(args):
    with open("/dev/full", "w") as full:
        told = cpulab(*args, stdout=full)
    assert told.returncode == 2
    assert told.stderr == "cpulab: error: cannot write the output: No space left on device\n"


def test_a_run_whose_output_cannot_be_written_is_stored(results_store):
    with open("/dev/full", "w") as full:
        out = cpulab("run", "rf-train", "--json", stdout=full)
    assert out.returncode == 2
    assert out.stderr == "cpulab: error: cannot write the output: No space left on device\n"
    with ResultStore.open(results_store) as store:
        assert len(store.points()) == 1


@pytest.mark.parametrize(
    "args", [("tasks",), ("history",), ("run", "rf-train", "--json")], ids=" ".join
)
def test_a_closed_pipe_ends_quietly(args, good_store):
    reading, writing = os.pipe()
    os.close(reading)  # as `| head` does once it has its lines
    try:
        out = cpulab(*args, stdout=writing)
    finally:
        os.close(writing)
    assert (out.returncode, out.stderr) == (1, "")
    with ResultStore.open(good_store) as store:
        assert len(store.points()) == (2 if "run" in args else 1)


@pytest.mark.parametrize("args", [("tasks",), ("history",), ("run", "rf-train")], ids=" ".join)
def test_a_closed_standard_output_is_refused_before_anything_runs(args, good_store):
    out = subprocess.run(
        [sys.executable, "-m", "cpulab", *args],
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        preexec_fn=lambda: os.close(1),  # as `cpulab ... >&-` starts it
    )
    assert out.returncode == 2
    assert out.stderr == "cpulab: error: cannot write the output: standard output is closed\n"
    with ResultStore.open(good_store) as store:
        assert len(store.points()) == 1  # nothing measured, nothing stored


@pytest.mark.parametrize(
    "env",
    [{"PYTHONIOENCODING": "ascii"}, {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0"}],
    ids=lambda env: " ".join(f"{k}={v}" for k, v in env.items()),
)
@pytest.mark.parametrize("command", ["tasks", "history"])
def test_an_ascii_output_encoding_degrades_the_output(env, command, good_store):
    out = cpulab(command, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    assert out.stdout.isascii() and "rf-train" in out.stdout


# Ctrl-C before main's own handling: a real SIGINT, sent by the process to itself.

INTERRUPT_IMPORT = """
import os, runpy, signal, sys

class Interrupt:
    def find_spec(self, name, path=None, target=None):
        if name == "cpulab.cli.parser":
            os.kill(os.getpid(), signal.SIGINT)

sys.meta_path.insert(0, Interrupt())
sys.argv = ["cpulab", "tasks"]
runpy.run_module("cpulab", run_name="__main__")
"""

INTERRUPT_PARSING = """
import argparse, os, runpy, signal, sys

parse = argparse.ArgumentParser.parse_known_args

def interrupted(self, *args, **kwargs):
    os.kill(os.getpid(), signal.SIGINT)
    return parse(self, *args, **kwargs)

argparse.ArgumentParser.parse_known_args = interrupted
sys.argv = ["cpulab", "tasks"]
runpy.run_module("cpulab", run_name="__main__")
"""


@pytest.mark.parametrize(
    "script", [INTERRUPT_IMPORT, INTERRUPT_PARSING], ids=["during imports", "during parsing"]
)
def test_ctrl_c_before_anything_ran_is_one_line_and_status_130(script):
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert (out.returncode, out.stderr, out.stdout) == (130, "cpulab: cancelled\n", "")


# A terminal that cannot draw the app.


def test_term_dumb_runs_the_headless_demo(results_store):
    terminal, its_end = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-m", "cpulab"],
        stdin=its_end,
        stdout=its_end,
        stderr=subprocess.PIPE,
        env={**os.environ, "TERM": "dumb"},
    )
    os.close(its_end)
    shown = b""
    try:
        while chunk := os.read(terminal, 4096):
            shown += chunk
    except OSError:  # EIO: the child closed the terminal
        pass
    finally:
        os.close(terminal)
    stderr = child.stderr.read().decode() if child.stderr else ""
    assert child.wait(timeout=120) == 0, stderr
    # Then the sweep's points, as the demo reports them off a terminal.
    assert stderr.startswith("cpulab: TERM=dumb cannot draw the app: running the headless demo\n")
    assert b"\x1b[" not in shown  # no screen drawn, no colour
    assert b"Random forest" in shown
    with ResultStore.open(results_store) as store:
        assert store.points()
