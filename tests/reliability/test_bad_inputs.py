"""Bad input, every way in: one line on stderr starting with "cpulab", exit status 2, no
traceback, and every store file left exactly as it was.

Arguments, store files and environment variables, each in a real `cpulab` process.
docs/RELIABILITY.md lists every case with the line it gets. (A broken theme file named
with --theme is bad input; one that is merely present is reported in the app, which falls
back: see test_theme_files.py.)
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from cpulab.engine.store import SCHEMA_VERSION
from support.bad_input import bad, case_id, check_refused, directory
from support.store import (
    corrupted_store,
    foreign_application,
    foreign_in_wal_mode,
    foreign_with_a_table,
    newer_store,
    random_bytes,
    real_store,
    text_file,
    truncated_store,
)


def sqlite_header_then_noise(path: Path) -> None:
    path.write_bytes(b"SQLite format 3\x00" + random.Random(7).randbytes(2000))


def regular_file(path: Path) -> None:
    path.write_text("a file where a directory should be\n")


def config_with_broken_theme(path: Path) -> None:
    """A user config directory whose theme "mine" is not TOML."""
    themes = path / "cpulab" / "themes"
    themes.mkdir(parents=True)
    (themes / "mine.toml").write_text("name = mine\n")


ARGUMENTS = [
    bad("run", "rf-train", "--train", "0", says="training cores cannot be 0"),
    bad("run", "rf-train", "--train", "abc", says="training cores must be a whole number"),
    bad("run", "rf-train", "--train", "", says="whole number of cores, not ''"),
    bad("run", "rf-train", "--train", "1.5", says="whole number of cores, not '1.5'"),
    bad("run", "rf-train", "--train", says="argument --train: expected one argument"),
    bad("run", "rf-train", "--eval", "-99", says="evaluation cores=-99 leaves no core"),
    bad("run", "rf-train", "--eval", "2", says="rf-train has no evaluation cores knob"),
    bad("run", "digits-svc", "--train", "2", says="digits-svc has no training cores knob"),
    bad("run", "rf-train", "--scale", "huge", says="invalid choice: 'huge'"),
    bad("run", "rf-train", "--repeats", "0", says="repeats must be at least 1"),
    bad("run", "rf-train", "--repeats", "many", says="expected a whole number"),
    bad("run", "rf-train", "--warmup", "-1", says="warm-up runs cannot be negative"),
    bad("run", "rf-trian", says="unknown task 'rf-trian': choose one of rf-train, cv-eval"),
    bad("run", says="name the task to run (see `cpulab tasks`), or give one --task-file"),
    bad("run", "rf-train", "--bogus", says="unrecognized arguments: --bogus"),
    bad("run", "rf-train", "--x\ny", says="unrecognized arguments: --x\\ny"),
    bad("frobnicate", says="invalid choice: 'frobnicate'"),
    bad("sweep", "rf-train", "--cores", "0", says="core counts start at 1"),
    bad("sweep", "rf-train", "--cores", "3-1", says="the range 3-1 runs backwards"),
    bad("sweep", "rf-train", "--cores", "x", says="cannot read core count 'x'"),
    bad("sweep", "rf-train", "--cores", "", says="cannot read core count ''"),
    bad("sweep", "rf-train", "--cores", "1,,2", says="cannot read core count ''"),
    bad("sweep", "rf-train", "--cores", "-1", says="cannot read core count '-1'"),
    bad("sweep", "rf-train", "--cores", "5000", says="5000 cores is beyond any machine"),
    bad("sweep", "rf-train", "--repeats", "-1", says="repeats must be at least 1"),
    bad("sweep", "rf-train", "--warmup", "x", says="expected a whole number, not 'x'"),
    bad("sweep", "rf-train", "--strategy", "foo", says="unknown strategy 'foo'"),
    bad("sweep", "rf-train", "--strategy", "", says="unknown strategy '': choose one of"),
    bad(
        "run",
        "compare-classifiers",
        "--data",
        "",
        "--target",
        "y",
        says="--data names no file: give the path of a CSV file",
    ),
    bad("sweep", "rf-train", "--strategy", "eval", says="rf-train has no evaluation cores knob"),
    bad("sweep", "digits-svc", "--strategy", "train", says="digits-svc has no training cores"),
    bad("sweep", "nope", says="unknown task 'nope'"),
    bad("export", "--format", "xml", says="invalid choice: 'xml'"),
    bad("export", "--out", "/nonexistent-dir/out.csv", says="cannot write /nonexistent-dir"),
    bad("export", "--out", "/", says="cannot write /"),
    bad("history", "--machine", says="argument --machine: expected one argument"),
    bad("--theme", "nosuch", says="argument --theme: unknown theme 'nosuch'"),
    # The app's own options: off a terminal the demo sweep honours them, so checks them.
    bad("--backend", "foo", says="unknown backend 'foo'"),
    bad("--blas-threads", "0", says="BLAS threads must be at least 1, not 0"),
    bad("--dask", "local:2", says="a sweep cannot run on Dask"),
    bad(
        "--theme",
        "mine",
        env={"XDG_CONFIG_HOME": "{file}"},
        make=config_with_broken_theme,
        name="config",
        says="mine.toml: Invalid value",
    ),
    bad("--sample-hz", "50", says="the sampling rate must be between 0.2 and 10 Hz, not 50"),
    bad("--sample-hz", "0", says="the sampling rate must be between 0.2 and 10 Hz, not 0"),
    bad("--sample-hz", "nan", says="the sampling rate must be between 0.2 and 10 Hz, not nan"),
    bad("--sample-hz", "fast", says="argument --sample-hz: expected samples per second"),
]

STORE_FILES = [
    bad("history", "--db", "{file}", make=random_bytes, says="it is not an SQLite database"),
    bad("export", "--db", "{file}", make=text_file, says="it is not an SQLite database"),
    bad("run", "rf-train", "--db", "{file}", make=sqlite_header_then_noise,
        says="is an SQLite database of another application (application_id 0x945de2e8)"),
    bad("run", "rf-train", "--db", "{file}", make=foreign_with_a_table,
        says="is an SQLite database that cpulab did not create"),
    bad("sweep", "rf-train", "--cores", "1", "--db", "{file}", make=foreign_application,
        says="of another application (application_id 0x47504b47)"),
    bad("history", "--db", "{file}", make=foreign_in_wal_mode, says="cpulab did not create"),
    bad("history", "--db", "{file}", make=truncated_store, says="is damaged: it is cut short"),
    bad("export", "--db", "{file}", make=corrupted_store, says="is damaged:"),
    bad("history", "--db", "{file}", make=newer_store,
        says=f"was written by a newer cpulab (schema version {SCHEMA_VERSION + 1};"
        f" this one reads up to {SCHEMA_VERSION})"),
    bad("history", "--db", "{file}", make=directory, says="is a directory, not a results file"),
    bad("history", "--db", "{file}", make=directory, name="two\nlines",
        says="two\\nlines is a directory, not a results file"),
    bad("history", "--db", "", says=". is a directory, not a results file"),
    bad("history", "--db", "/dev/null", says="/dev/null is a character device, not a results file"),
    bad("history", "--db", "{file}/results.sqlite", make=regular_file,
        says="results.sqlite: Not a directory"),
]  # fmt: skip

ENVIRONMENT = [
    bad("run", "rf-train", env={"LOKY_MAX_CPU_COUNT": "abc"},
        says="LOKY_MAX_CPU_COUNT must be a whole number, not 'abc'"),
    bad("sweep", "cv-eval", env={"LOKY_MAX_CPU_COUNT": ""},
        says="LOKY_MAX_CPU_COUNT must be a whole number, not ''"),
    bad(env={"LOKY_MAX_CPU_COUNT": "2.5"},  # no command: the headless demo
        says="LOKY_MAX_CPU_COUNT must be a whole number, not '2.5'"),
    bad("history", env={"CPULAB_DB": "{file}"}, make=directory,
        says="is a directory, not a results file"),
    bad("run", "rf-train", env={"CPULAB_DB": "{file}"}, make=random_bytes,
        says="it is not an SQLite database"),
    bad("export", env={"CPULAB_DB": "{file}"}, make=foreign_with_a_table,
        says="cpulab did not create"),
    bad("sweep", "rf-train", env={"CPULAB_DB": "{file}"}, make=newer_store,
        says="was written by a newer cpulab"),
    bad("history", env={"CPULAB_DB": "{file}/results.sqlite"}, make=regular_file,
        says="Not a directory"),
    bad("delete", "31", "--db", "{file}", make=real_store, says="no stored result #31 in"),
    bad("delete", "0", "--db", "{file}", make=real_store,
        says="argument ID: result ids start at 1, not 0"),
    bad("delete", "--db", "{file}", make=real_store,
        says="the following arguments are required: ID"),
    bad("restore", "3", "--db", "{file}", make=real_store, says="result #3 is not deleted"),
    bad("restore", "2", "#4", "--db", "{file}", make=real_store,
        says="argument ID: expected a whole number, not '#4'"),
    bad("compare", "12", "15", "--db", "{file}", make=real_store, says="there is no sweep #12 in"),
    bad("compare", "run:1", "run:31", "--db", "{file}", make=real_store,
        says="there is no stored result #31 in"),
    # An id past SQLite's largest integer is no stored result, not an overflow, and the
    # message names the id as typed.
    bad("compare", "run:99999999999999999999999", "run:1", "--db", "{file}", make=real_store,
        says="there is no stored result #99999999999999999999999: result ids go up to "
             "9223372036854775807"),
    bad("compare", "99999999999999999999999", "1", "--db", "{file}", make=real_store,
        says="there is no sweep #99999999999999999999999: sweep ids go up to"),
    bad("show", "99999999999999999999999", "--db", "{file}", make=real_store,
        says="there is no stored result #99999999999999999999999: result ids go up to"),
    bad("delete", "2", "99999999999999999999999", "--db", "{file}", make=real_store,
        says="there is no stored result #99999999999999999999999: result ids go up to"),
    # A --task that is neither stored nor a task cpulab knows is a typo, not "no results".
    bad("history", "--task", "rf-trian", "--db", "{file}", make=real_store,
        says="unknown task 'rf-trian': results of rf-train are stored; see `cpulab tasks`"),
    bad("history", "--advice", "--task", "rf-trian", "--db", "{file}", make=real_store,
        says="unknown task 'rf-trian': results of rf-train are stored"),
    bad("export", "--task", "rf-trian", "--db", "{file}", make=real_store,
        says="unknown task 'rf-trian': results of rf-train are stored"),
    bad("compare", "--task", "rf-trian", "--machines", "1,2", "--db", "{file}", make=real_store,
        says="unknown task 'rf-trian': results of rf-train are stored"),
    bad("export", "--task", "rf-trian", "--db", "{file}",
        says="unknown task 'rf-trian': no results are stored"),
    bad("compare", "3", "sweep:3", says="A and B are both sweep #3: compare two different ones"),
    bad("compare", "#12", "15", says="cannot read '#12': name a sweep as 12 or sweep:12"),
    bad("compare", "12", says="name two to compare: sweeps (cpulab compare 12 15)"),
    bad("compare", "run:1", "run:2", "--fail-if-slower", "x",
        says="argument --fail-if-slower: expected a percentage, not 'x'"),
    bad("compare", "run:1", "run:2", "--fail-if-slower", "-5",
        says="argument --fail-if-slower: a slowdown limit is 0 % or more, not -5"),
    bad("compare", "--task", "rf-train", "--machines", "alpha",
        says="--machines names two machines, as alpha,beta, not 'alpha'"),
    bad("compare", "--task", "rf-train", "--machines", "alpha,gamma", "--db", "{file}",
        make=real_store, says="no stored rf-train results on a machine matching 'gamma'"),
]  # fmt: skip

BAD_INPUTS = ARGUMENTS + STORE_FILES + ENVIRONMENT


@pytest.mark.parametrize("case", BAD_INPUTS, ids=case_id)
def test_bad_input_is_one_line_and_status_2_and_changes_no_file(case, good_store, tmp_path):
    check_refused(case, tmp_path)
