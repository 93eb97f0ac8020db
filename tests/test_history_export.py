"""`cpulab history` a page at a time, and exports written as they are read, on real stores.

tests/fixtures/exports/ holds what the exports wrote, with the clock at EXPORTED_AT, before
they streamed (cpulab as of commit b5e4c87): of tests/fixtures/store-v1.sqlite and of
tests/fixtures/store-export.sqlite, a small store with what exports must get right (a grid
sweep, a failed and an empty sweep, variants, non-ASCII text, a NaN in a stored result,
unreadable rows, two machines, an upgraded install). Streaming changed no byte of them;
each sweep's scaling model, added since to the JSON and Markdown, is all that is new.
"""

from __future__ import annotations

import contextlib
import csv
import html
import io
import json
import os
import re
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cpulab import cli
from cpulab.engine import store as store_module
from cpulab.engine.errors import Interrupted, UsageError
from cpulab.engine.export import (
    CSV_COLUMNS,
    EXPORT_RESAMPLES,
    EXPORTERS,
    export_text,
    sweep_views,
    write_export,
)
from cpulab.engine.models import fit_scaling, model_points
from cpulab.engine.presentation import REPORT_VERSION, model_lines, sweep_markdown
from cpulab.engine.stats import PointStats, analyse_scaling
from cpulab.engine.store import ResultStore
from support.bad_input import bad, case_id, check_refused
from support.cli import cpulab
from support.store import (
    ALPHA,
    ALPHA_SOFTWARE,
    BETA,
    damage_a_points_page,
    digest,
    model_of,
    real_store,
    result,
)

FIXTURES = Path(__file__).parent / "fixtures"
EXPORTED_AT = 1700000000.25
SUFFIXES = {"json": "json", "csv": "csv", "markdown": "md"}
EXPORTED_AT_LINE = re.compile(r'^  "exported_at": .*,$', re.MULTILINE)
MARKDOWN_MODEL = re.compile(r"\n\n- model: .*(?:\n- .*)*")


def without_models(fmt: str, text: str) -> str:
    """An export less its sweeps' scaling models: what the exports wrote before them."""
    if fmt == "json":
        document = json.loads(text)
        for sweep in document["sweeps"]:
            del sweep["model"]
        return json.dumps(document, indent=2) + "\n"
    return MARKDOWN_MODEL.sub("", text) if fmt == "markdown" else text


def listed_ids(stdout: str) -> list[int]:
    """The id column of `cpulab history`'s table, top to bottom."""
    lines = stdout.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith(("─", "-"))) + 1
    end = lines.index("", start)
    return [int(line.split()[0]) for line in lines[start:end]]


def singles(path: Path, count: int) -> list[int]:
    with ResultStore.open(path) as store:
        return [store.add_point(result(1 + n % 8)) for n in range(count)]


def in_process(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(list(args))
    return status, out.getvalue(), err.getvalue()


# History: a bounded page, newest first


def test_history_shows_the_newest_page_and_says_how_to_see_more(results_store):
    ids = singles(results_store, 60)

    page = cpulab("history")
    assert page.returncode == 0, page.stderr
    assert page.stdout.startswith("Newest 50 of 60 stored results (--limit N or --all shows more)")
    assert listed_ids(page.stdout) == ids[:9:-1]
    assert f"10 older: --before {ids[10]} for the next 10" in page.stdout

    following = cpulab("history", "--before", str(ids[10]))
    assert following.stdout.startswith(f"10 of 60 stored results: the newest before #{ids[10]}")
    assert listed_ids(following.stdout) == ids[9::-1]
    assert "older" not in following.stdout

    few = cpulab("history", "--limit", "5")
    assert listed_ids(few.stdout) == ids[:54:-1]
    assert f"55 older: --before {ids[55]} for the next 5" in few.stdout

    every = cpulab("history", "--all")
    assert every.stdout.startswith("60 stored results, newest first")
    assert listed_ids(every.stdout) == ids[::-1]
    assert "older" not in every.stdout


def test_history_filters_before_it_takes_a_page(results_store):
    with ResultStore.open(results_store) as store:
        wanted = [store.add_point(result(t, task="cv-eval", machine=BETA)) for t in (1, 2, 4)]
        for t in range(1, 11):  # newer, of other tasks or machines
            store.add_point(result(t, task="cv-eval"))
            store.add_point(result(t, machine=BETA))
    out = cpulab("history", "--task", "cv-eval", "--machine", "beta", "--limit", "2")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Newest 2 of 3 stored results")
    assert listed_ids(out.stdout) == [wanted[2], wanted[1]]
    assert f"1 older: --before {wanted[1]} for the next 1" in out.stdout
    assert "No stored results match." in cpulab("history", "--before", "1").stdout


def test_an_empty_filter_matches_nothing_and_says_so(results_store):
    with ResultStore.open(results_store) as store:
        store.add_point(result(1))
        store.add_advice("rf-train", "small", "", "settled", ALPHA, {"best": {}})
    assert cpulab("history", "--task", "cv-eval").stdout == "No stored results match.\n"
    listed = cpulab("history", "--advice", "--task", "cv-eval")
    assert listed.stdout == "No advice records match.\n"


def test_a_task_filter_finds_a_task_no_longer_installed(results_store):
    """Results of a plug-in since uninstalled are still the store's: its name is no typo."""
    with ResultStore.open(results_store) as store:
        kept = store.add_point(result(1, task="uninstalled-plugin"))
        store.add_point(result(1))
    out = cpulab("history", "--task", "uninstalled-plugin")
    assert out.returncode == 0, out.stderr
    assert listed_ids(out.stdout) == [kept]
    exported = json.loads(cpulab("export", "--task", "uninstalled-plugin").stdout)
    assert [run["id"] for run in exported["runs"]] == [kept]
    typo = cpulab("history", "--task", "uninstalled-plugn")
    assert typo.returncode == 2
    assert typo.stderr.endswith(
        "unknown task 'uninstalled-plugn': results of rf-train, uninstalled-plugin are stored;"
        " see `cpulab tasks`\n"
    )


def test_the_advice_history_says_when_a_limit_leaves_some_out(results_store):
    with ResultStore.open(results_store) as store:
        for _ in range(3):
            store.add_advice("rf-train", "small", "", "settled", ALPHA, {"best": {}})
    some = cpulab("history", "--advice", "--limit", "2").stdout
    assert some.startswith("Newest 2 advice records (--limit N or --all shows more)\n")
    assert [line[:9] for line in some.splitlines()[2:]] == ["advice #3", "advice #2"]
    every = cpulab("history", "--advice", "--limit", "3").stdout
    assert every.startswith("3 advice records, newest first\n")


def test_history_footers_tell_of_the_rows_shown_only(results_store):
    upgraded = {**ALPHA_SOFTWARE, "libraries": {"scikit-learn": "1.6.0", "numpy": "2.0.0"}}
    with ResultStore.open(results_store) as store:
        old = store.start_sweep("rf-train", "small", "train", [1, 2], 1, 0, ALPHA)
        store.add_point(result(1), old)
        store.finish_sweep(old, "done")
        new = store.start_sweep("cv-eval", "small", "eval", [1, 2], 1, 0, BETA)
        for eval_ in (1, 2):
            store.add_point(result(1, eval_, task="cv-eval", machine=BETA, software=upgraded), new)
        store.finish_sweep(new, "done")

    newest = cpulab("history", "--limit", "2").stdout
    assert f"sweep #{new}: cv-eval" in newest and f"sweep #{old}" not in newest
    assert "host #2: beta-laptop" in newest and "host #1" not in newest
    assert "  software #2: Python 3.11.9, scikit-learn 1.6.0" in newest
    assert "software #1" not in newest

    every = cpulab("history", "--all").stdout
    assert f"sweep #{old}: rf-train" in every and "host #1: alpha" in every


def test_a_sweeps_variant_is_named_wherever_the_sweep_is(results_store):
    with ResultStore.open(results_store) as store:
        own = store.start_sweep("cv-eval", "small", "eval", [1, 2], 1, 0, ALPHA)
        theirs = store.start_sweep("cv-eval", "small", "eval", [1, 2], 1, 0, ALPHA)
        for eval_ in (1, 2):
            store.add_point(result(1, eval_, task="cv-eval"), own)
            store.add_point(result(1, eval_, task="cv-eval", variant="flowers.csv:species"), theirs)
        for sweep in (own, theirs):
            store.finish_sweep(sweep, "done")

    listed = cpulab("history")
    assert listed.returncode == 0, listed.stderr
    assert f"sweep #{own}: cv-eval over 1,2 cores" in listed.stdout
    assert f"sweep #{theirs}: cv-eval [flowers.csv:species] over 1,2 cores" in listed.stdout

    exported = cpulab("export", "--format", "markdown")
    assert exported.returncode == 0, exported.stderr
    headings = [line for line in exported.stdout.splitlines() if line.startswith("## Sweep")]
    assert headings == [
        f"## Sweep {own}: cv-eval (small), strategy eval",
        f"## Sweep {theirs}: cv-eval [flowers.csv:species] (small), strategy eval",
    ]


def test_history_reads_only_the_rows_it_shows(results_store, monkeypatch):
    singles(results_store, 120)
    read = []
    parse = ResultStore._result
    monkeypatch.setattr(
        ResultStore, "_result", lambda self, *a: read.append(a[0]) or parse(self, *a)
    )
    status, out, err = in_process("history", "--db", str(results_store))
    assert (status, err) == (0, "")
    assert read == sorted(read, reverse=True) and len(read) == 50
    assert out.startswith("Newest 50 of 120 stored results")


def test_history_of_a_store_whose_newest_rows_are_unreadable(results_store):
    import sqlite3
    from contextlib import closing

    ids = singles(results_store, 8)
    with closing(sqlite3.connect(results_store)) as conn:
        conn.execute("UPDATE points SET result = '{' WHERE id >= ?", (ids[6],))
        conn.commit()
    out = cpulab("history", "--limit", "3")
    assert listed_ids(out.stdout) == [ids[5], ids[4], ids[3]]  # the next readable ones
    assert out.stdout.startswith("Newest 3 of 8 stored results")
    assert f"3 older: --before {ids[3]}" in out.stdout
    assert out.stderr.count("cannot be read") == 2 and out.stderr.count("\n") == 2


@pytest.fixture
def one_result(results_store) -> Path:
    with ResultStore.open(results_store) as store:
        store.add_point(result())
    return results_store


@pytest.mark.parametrize(
    "case",
    [
        bad("history", "--limit", "0", says="argument --limit: show at least 1 result, not 0"),
        bad("history", "--limit", "-3", says="argument --limit: show at least 1 result, not -3"),
        bad("history", "--limit", "many", says="argument --limit: expected a whole number"),
        bad("history", "--limit", "1.5", says="argument --limit: expected a whole number"),
        bad("history", "--limit", "9" * 40, says="far too large a number"),
        bad("history", "--limit", says="argument --limit: expected one argument"),
        bad("history", "--all", "--limit", "3", says="argument --limit: not allowed with"),
        bad("history", "--before", "0", says="argument --before: result ids start at 1, not 0"),
        bad("history", "--before", "#12", says="argument --before: expected a whole number"),
    ],
    ids=case_id,
)
def test_bad_history_options_are_one_line_and_status_2(case, one_result, tmp_path):
    check_refused(case, tmp_path)


def test_the_largest_page_and_id_are_all_of_them(one_result):
    for args in (("--limit", "9" * 19), ("--before", "9" * 19)):
        out = cpulab("history", *args)
        assert out.returncode == 0, out.stderr
        assert len(listed_ids(out.stdout)) == 1


# Exports: streamed, and the same bytes as before


def fixture_store(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.sqlite"
    shutil.copyfile(FIXTURES / f"{name}.sqlite", path)
    return path


@pytest.mark.parametrize("fmt", ["json", "csv", "markdown"])
@pytest.mark.parametrize("name", ["store-v1", "store-export"])
def test_streamed_exports_are_the_same_bytes_as_before(tmp_path, name, fmt):
    expected = (FIXTURES / "exports" / f"{name}.{SUFFIXES[fmt]}").read_text(encoding="utf-8")
    path = fixture_store(tmp_path, name)
    clock = {"clock": lambda: EXPORTED_AT} if fmt == "json" else {}
    with ResultStore.open(path, readonly=True) as store:
        assert without_models(fmt, "".join(EXPORTERS[fmt](store, **clock))) == expected

    # And from the command line, to a file and to standard output.
    out = tmp_path / f"out.{fmt}"
    written = cpulab("export", "--format", fmt, "--db", str(path), "--out", str(out))
    printed = cpulab("export", "--format", fmt, "--db", str(path))
    unclocked = EXPORTED_AT_LINE.sub("", expected)
    for text in (out.read_text(encoding="utf-8"), printed.stdout):
        assert EXPORTED_AT_LINE.sub("", without_models(fmt, text)) == unclocked
    unreadable = 3 if name == "store-export" else 0
    assert written.stderr == printed.stderr
    assert written.stderr.count("cannot be read") == written.stderr.count("\n") == unreadable


def test_the_streamed_json_is_indented_down_to_each_point_and_strict(tmp_path):
    with ResultStore.open(fixture_store(tmp_path, "store-export"), readonly=True) as store:
        text = export_text("json", store)
    document = json.loads(text)
    lines = text.splitlines()
    # Down to each sweep's own fields as indent=2 lays them out; then a point, an
    # analysis or a model a line.
    points = [p for sweep in document["sweeps"] for p in sweep["points"]] + document["runs"]
    one_line = [line.strip().rstrip(",") for line in lines if line.lstrip().startswith('{"id":')]
    assert [json.loads(line) for line in one_line] == points
    sweep = document["sweeps"][0]
    assert f'      "task": "{sweep["task"]}",' in lines
    assert f'      "analysis": {json.dumps(sweep["analysis"], separators=(",", ":"))},' in lines
    assert "NaN" not in text and '"cpu_time":null' in text


def test_exports_read_the_store_a_batch_at_a_time(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "READ_BATCH", 4)
    path = tmp_path / "many.sqlite"
    with ResultStore.open(path) as store:
        for _ in range(3):
            sweep = store.start_sweep("rf-train", "small", "train", [1, 2], 1, 0, ALPHA)
            for train in (1, 2):
                store.add_point(result(train), sweep)
            store.finish_sweep(sweep, "done")
        for n in range(13):
            store.add_point(result(1 + n % 4))
    rows = []
    read = ResultStore._read
    monkeypatch.setattr(
        ResultStore, "_read", lambda self, *a: rows.append(len(r := read(self, *a))) or r
    )
    with ResultStore.open(path, readonly=True) as store:
        documents = {fmt: export_text(fmt, store) for fmt in EXPORTERS}
    assert max(rows) <= 4
    document = json.loads(documents["json"])
    assert len(document["sweeps"]) == 3 and len(document["runs"]) == 13
    assert documents["csv"].count("\n") == 1 + 6 + 13
    assert documents["markdown"].count("## Sweep") == 3


def failing_midway(*chunks: str, error: BaseException):
    yield from chunks
    raise error


@pytest.mark.parametrize(
    "error", [UsageError("the store is damaged"), KeyboardInterrupt()], ids=["damaged", "ctrl-c"]
)
def test_an_export_cut_short_leaves_the_file_as_it_was(tmp_path, error):
    out = tmp_path / "results.csv"
    out.write_text("the previous export\n")
    with pytest.raises(type(error)):
        write_export(failing_midway("a,b\n", "1,2\n", error=error), out)
    assert out.read_text() == "the previous export\n"
    assert os.listdir(tmp_path) == ["results.csv"]  # no half-written file left beside it

    new = tmp_path / "new.csv"
    with pytest.raises(type(error)):
        write_export(failing_midway("a,b\n", error=error), new)
    assert not new.exists() and os.listdir(tmp_path) == ["results.csv"]


def signalled_midway(signum: int):
    yield "a,b\n"
    os.kill(os.getpid(), signum)  # as `kill` would, while the export is being written
    time.sleep(5)  # not reached: the signal ends the export first
    yield "1,2\n"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["term", "hup"])
def test_an_export_ended_by_a_signal_leaves_the_file_as_it_was(tmp_path, signum):
    out = tmp_path / "results.csv"
    out.write_text("the previous export\n")
    before = signal.getsignal(signum)
    with pytest.raises(Interrupted) as caught:
        write_export(signalled_midway(signum), out)
    assert caught.value.signum == signum
    assert out.read_text() == "the previous export\n"
    assert os.listdir(tmp_path) == ["results.csv"]  # its temporary file gone too
    assert signal.getsignal(signum) == before


def test_an_export_takes_the_place_of_a_file_and_keeps_its_modes_and_links(tmp_path):
    out = tmp_path / "results.md"
    out.write_text("old\n")
    out.chmod(0o640)
    write_export(iter(["# cpulab", " results\n"]), out)
    assert out.read_text() == "# cpulab results\n"
    assert stat.S_IMODE(out.stat().st_mode) == 0o640

    link = tmp_path / "latest.md"
    link.symlink_to(out)
    write_export(iter(["through the link\n"]), link)
    assert link.is_symlink() and out.read_text() == "through the link\n"

    mask = os.umask(0o022)
    try:
        write_export(iter(["x\n"]), tmp_path / "fresh.md")
    finally:
        os.umask(mask)
    assert stat.S_IMODE((tmp_path / "fresh.md").stat().st_mode) == 0o644
    assert sorted(os.listdir(tmp_path)) == ["fresh.md", "latest.md", "results.md"]


def test_an_export_to_a_pipe_is_streamed_into_it(tmp_path, one_result):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()), daemon=True)
    reader.start()
    out = cpulab("export", "--format", "json", "--out", str(fifo))
    reader.join(timeout=60)
    assert (out.returncode, out.stderr) == (0, "")
    assert len(json.loads(received[0])["runs"]) == 1
    assert stat.S_ISFIFO(fifo.stat().st_mode)  # written into, not replaced


@pytest.mark.parametrize("way", ["its name", "a symbolic link", "a hard link", "its -wal file"])
def test_an_export_over_the_store_it_reads_is_refused(tmp_path, one_result, way):
    with ResultStore.open(one_result):  # open: its -wal file is there
        if way == "a symbolic link":
            (out := tmp_path / "link.json").symlink_to(one_result)
        elif way == "a hard link":
            os.link(one_result, out := tmp_path / "hard.json")
        else:
            out = Path(f"{one_result}-wal") if way == "its -wal file" else one_result
        before = digest(one_result)
        done = cpulab("export", "--format", "json", "--out", str(out))
        assert done.returncode == 2
        assert (
            done.stderr
            == f"cpulab: error: cannot write {out}: it is the results store being exported\n"
        )
        assert digest(one_result) == before
    with ResultStore.open(one_result, readonly=True) as store:
        assert len(store.points()) == 1


# Damage in a store too large to check page by page as it opens

LARGE = """
import sys
from cpulab import cli
from cpulab.engine import store
store.FULL_CHECK_BYTES = 0  # as though the store were larger than the full check allows
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.parametrize("command", [("history", "--all"), ("export", "--out", "{out}")])
def test_damage_found_while_reading_is_one_line_and_status_2(tmp_path, command):
    path = tmp_path / "large.sqlite"
    real_store(path, points=60)
    damage_a_points_page(path)
    out = tmp_path / "results.json"
    args = [arg.replace("{out}", str(out)) for arg in command]
    done = subprocess.run(
        [sys.executable, "-c", LARGE, *args, "--db", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr == f"cpulab: error: {path} is damaged: database disk image is malformed\n"
    assert sorted(os.listdir(tmp_path)) == ["large.sqlite"]  # no export, whole or half


# Each sweep's scaling model, in every format that can carry it


def test_each_sweeps_model_is_in_the_json_markdown_and_html(tmp_path):
    with ResultStore.open(fixture_store(tmp_path, "store-export"), readonly=True) as store:
        texts = {fmt: export_text(fmt, store) for fmt in EXPORTERS}
        grid = next(sweep_views(store, None, None))
    model = fit_scaling(model_points(grid.report), resamples=EXPORT_RESAMPLES)
    assert model is not None and grid.model is not None

    # JSON: the model as ScalingModel.to_dict writes it, predictions up to twice the
    # machine's 16 cores; null for the sweep of one core count.
    fitted, single = json.loads(texts["json"])["sweeps"]
    assert fitted["model"] == json.loads(json.dumps(model.to_dict(16)))
    assert fitted["model"]["resamples"] == EXPORT_RESAMPLES
    assert [p["cores"] for p in fitted["model"]["predictions"]] == [1, 2, 4, 8, 16, 32]
    assert single["model"] is None

    # Markdown and HTML: the lines `cpulab sweep` prints, under the sweep's table.
    lines = model_lines(model, 16, baseline=grid.report.baseline.median)
    assert lines[0].startswith("model: Amdahl's law") and len(lines) > 2
    sections = texts["markdown"].split("## ")
    assert "\n".join(f"- {line}" for line in lines) in sections[1]
    assert "- model: " not in sections[2]
    grid_html = texts["html"].split("<h2>")[1]
    assert all(html.escape(line) in grid_html for line in lines)
    assert grid_html.count('class="band"') == 2 and grid_html.count('class="model"') == 1

    # CSV: a row per point, as before; the model is the sweep's, not a point's.
    assert texts["csv"].splitlines()[0] == ",".join(CSV_COLUMNS)
    assert "model" not in texts["csv"]


def test_a_sweep_exports_the_model_it_stored_as_it_ended(tmp_path):
    times = {1: [1.0, 1.02, 0.99], 2: [0.56, 0.55, 0.57], 4: [0.33, 0.34, 0.32]}
    model = fit_scaling(sorted(times.items()))  # `cpulab sweep`'s own 200 refits
    assert model is not None
    stored = json.loads(json.dumps(model.to_dict(16)))
    with ResultStore.open(tmp_path / "r.db") as store:
        sweep = store.start_sweep("rf-train", "small", "train", [1, 2, 4], 3, 0, ALPHA)
        for cores, fit_times in times.items():
            store.add_point(result(cores, 1, fit_times=fit_times), sweep)
        store.finish_sweep(sweep, "done", model=stored)
        texts = {fmt: export_text(fmt, store) for fmt in ("json", "markdown")}
    [exported] = json.loads(texts["json"])["sweeps"]
    assert exported["model"] == stored and exported["model"]["resamples"] == 200
    said = model_lines(model, 16, baseline=1.0)  # the median of the 1 x 1's repeats
    assert "\n".join(f"- {line}" for line in said) in texts["markdown"]


# What the store keeps for exports, against what they compute without it


def store_of_every_kind(path: Path) -> list[int]:
    """Sweeps (a grid with a split measured twice, one of variant data and a memory read,
    a failed one) and single runs (a NaN score, a timeline), as cpulab writes them now.
    Returns the grid's point ids."""
    with ResultStore.open(path) as store:
        grid = store.start_sweep("rf-train", "small", "grid", [1, 2, 4], 3, 1, ALPHA)
        ids = []
        splits = [(1, 1, [1.0, 1.1, 0.9]), (2, 1, [0.6, 0.55, 0.7]), (1, 2, [0.58, 0.6, 0.61]),
                  (2, 2, [0.4, 0.41, 0.9]), (2, 2, [0.38, 0.39, 0.37]),
                  (4, 1, [0.45, 0.44, 0.46])]  # fmt: skip
        for train, eval_, times in splits:
            ids.append(store.add_point(result(train, eval_, fit_times=times), grid))
        store.finish_sweep(grid, "done", model=model_of(store, grid))
        data = store.start_sweep("cv-eval", "full", "eval", [1, 2], 3, 0, ALPHA)
        for eval_ in (1, 2):
            store.add_point(
                result(1, eval_, task="cv-eval", scale="full", variant="houses.csv:price",
                       memory={"runner_uss": 1 << 27, "worker_uss": [1 << 26]}, flags=[]),
                data,
            )  # fmt: skip
        store.finish_sweep(data, "done", model=model_of(store, data))
        failed = store.start_sweep("rf-train", "full", "train", [1, 2], 3, 0, BETA)
        store.add_point(result(1, scale="full", machine=BETA), failed)
        store.finish_sweep(failed, "failed", error="the runner died")
        store.add_point(result(2, score=float("nan")))
        store.add_point(result(1, timeline={"t0": 0.0, "cores": [[0.5, 0.25]]}, flags=[]))
    return ids


def exports_of(path: Path) -> dict[str, str]:
    with ResultStore.open(path, readonly=True) as store:
        return {fmt: export_text(fmt, store).replace(store.path.as_uri(), "") for fmt in EXPORTERS}


def forget_what_is_kept(path: Path) -> None:
    """The store as one written before schema 5 reads: nothing kept for exports."""
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE points SET summary = NULL")
        conn.execute("DELETE FROM point_facts")
        conn.execute("UPDATE sweeps SET analysis = NULL, report = NULL")


def test_exports_read_from_what_the_store_keeps_what_they_would_compute(tmp_path):
    path = tmp_path / "kept.sqlite"
    store_of_every_kind(path)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT COUNT(*) FROM points WHERE summary IS NULL").fetchone() == (0,)
        assert conn.execute(
            "SELECT COUNT(*) FROM points WHERE id NOT IN (SELECT point_id FROM point_facts)"
        ).fetchone() == (0,)
        assert conn.execute("SELECT COUNT(*) FROM sweeps WHERE analysis IS NULL").fetchone() == (0,)
        assert conn.execute("SELECT COUNT(*) FROM sweeps WHERE report IS NULL").fetchone() == (0,)
        assert conn.execute(
            "SELECT COUNT(*) FROM point_facts WHERE csv_before IS NULL OR csv_after IS NULL"
        ).fetchone() == (0,)
    kept = exports_of(path)
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE point_facts SET csv_before = NULL, csv_after = NULL")
    assert exports_of(path)["csv"] == kept["csv"]  # made from the facts alone
    forget_what_is_kept(path)
    computed = exports_of(path)
    for fmt in ("json", "csv", "markdown"):
        assert without_clock(kept[fmt]) == without_clock(computed[fmt]), fmt
    document = json.loads(kept["json"])
    grid = document["sweeps"][0]
    assert [p["stats"]["median"] for p in grid["points"]] == [1.0, 0.6, 0.6, 0.41, 0.38, 0.45]
    assert grid["analysis"]["best"]["stats"]["median"] == 0.38
    first = grid["points"][0]["result"]
    assert (first["fit_time"], first["fit_min"], first["fit_max"]) == (1.0, 0.9, 1.1)
    assert "memory" not in first and "timeline" not in first  # as `cpulab run --json` has it
    nan_run, timed = document["runs"]
    assert nan_run["result"]["score"] is None and timed["result"]["timeline"]["t0"] == 0.0


def test_markdown_reads_each_sweeps_section_as_kept_only_of_todays_version(tmp_path, monkeypatch):
    path = tmp_path / "kept.sqlite"
    store_of_every_kind(path)
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE sweeps SET report = 'the kept section' WHERE id = 1")
    assert "the kept section" in exports_of(path)["markdown"]
    # Kept by a cpulab whose sections read otherwise: made anew, as if not kept.
    monkeypatch.setattr(store_module, "REPORT_VERSION", store_module.REPORT_VERSION + 1)
    made = exports_of(path)["markdown"]
    assert "the kept section" not in made
    forget_what_is_kept(path)
    assert made == exports_of(path)["markdown"]


def test_a_section_whose_analysis_a_writer_before_schema_6_forgot_is_made_anew(tmp_path):
    # Such a writer, on deleting a point, forgets the sweep's analysis but not its section.
    path = tmp_path / "kept.sqlite"
    store_of_every_kind(path)
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE sweeps SET report = 'the kept section', analysis = NULL")
    assert "the kept section" not in exports_of(path)["markdown"]


def test_sweeps_whose_stored_texts_are_damaged_export_as_if_none_were_kept(tmp_path):
    path = tmp_path / "kept.sqlite"
    store_of_every_kind(path)
    made = exports_of(path)
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE sweeps SET analysis = '{', model = '[', report = NULL")
    damaged = exports_of(path)
    forget_what_is_kept(path)
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE sweeps SET model = NULL")  # fitted by the export, then
    computed = exports_of(path)
    for fmt, text in damaged.items():
        assert without_clock(text) == without_clock(computed[fmt]), fmt
    assert damaged["csv"] == made["csv"]


def test_a_row_another_writer_changes_has_its_facts_made_again(tmp_path):
    # A cpulab that opened the store before it migrated, or a hand edit: SQLite's triggers
    # keep the facts, so every format reads the row as it is now.
    path = tmp_path / "kept.sqlite"
    with ResultStore.open(path) as store:
        kept = store.add_point(result(flags=["noisy", "oversubscribed"]))
        damaged = store.add_point(result(2))
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE points SET result = '{' WHERE id = ?", (damaged,))
    for fmt in ("json", "csv", "markdown"):
        with ResultStore.open(path, readonly=True) as store:
            text = export_text(fmt, store)
            assert list(store.unreadable) == [damaged], fmt
        assert "noisy oversubscribed" in text or fmt == "json", fmt  # the flags in order
    csv_rows = exports_of(path)["csv"].splitlines()[1:]
    assert [row.split(",")[0] for row in csv_rows] == [str(kept)]
    # The CSV cells kept with the row go with its facts: never those of the text before.
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(
            "UPDATE points SET result = json_set(result, '$.score', 0.25) WHERE id = ?", (kept,)
        )
    (line,) = csv.DictReader(io.StringIO(exports_of(path)["csv"]))
    assert line["score"] == "0.25"


def test_a_row_every_reader_finds_unreadable_gets_no_csv_line_either(tmp_path):
    path = tmp_path / "kept.sqlite"
    with ResultStore.open(path) as store:
        kept = store.add_point(result(1))
        unreadable = store.add_point(result(2, cpu_time=float("nan")))  # null: not a time
    with ResultStore.open(path, readonly=True) as store:
        text = export_text("csv", store)
        assert list(store.unreadable) == [unreadable]
    assert [line.split(",")[0] for line in text.splitlines()[1:]] == [str(kept)]


def test_csv_cells_are_kept_as_csv_writer_quotes_them(tmp_path):
    path = tmp_path / "kept.sqlite"
    odd = 'a "b", c\nd'
    with ResultStore.open(path) as store:
        store.add_point(result(variant=odd, flags=["noisy", odd]))
    kept = exports_of(path)["csv"]
    (line,) = csv.DictReader(io.StringIO(kept))
    assert (line["variant"], line["flags"]) == (odd, f"noisy {odd}")
    forget_what_is_kept(path)
    assert exports_of(path)["csv"] == kept


GOLDEN_SECTION = """\
| cores | split | median s | MAD s | n | speedup | efficiency | Karp-Flatt |
| --- | --- | --- | --- | --- | --- | --- | --- |
| 1 | 1 x 1 * | 1.000 | 0.100 | 3 | 1.00 | 100% | - |
| 2 | 1 x 2 * | 0.560 | 0.010 | 3 | 1.79 | 89% | 0.120 |
| 4 | 2 x 2 * | 0.310 | 0.010 | 3 | 3.23 | 81% | 0.080 |

fit to the medians: T(p) = 0.064 + 0.989/p s, serial fraction 0.061, speedup ceiling 16.5x; \
best: 2 x 2 at 0.310 s.

- model: Amdahl's law: the USL's best k is 0, so it adds nothing but a parameter; \
serial fraction s = 0.051 [0.034, 0.129]
- predicted: 8 cores 0.184 [0.173, 0.232] s, 5.45x (beyond this machine)
- knee: the best predicted time up to 4 cores is at 4 cores
- warning: only 3 core counts were measured: 1 more (4 in all) would be enough to fit \
the USL's three parameters and check them"""


def test_a_sweeps_markdown_section_reads_as_kept_stores_hold_it():
    # Stores keep this text, made by the version REPORT_VERSION names. When a change to
    # presentation makes this test fail, bump REPORT_VERSION, add a schema step that
    # makes the kept sections anew (store.SECTIONS_KEPT_AT) and update the text below.
    report = analyse_scaling(
        [(1, 1, PointStats.of([1.0, 1.1, 0.9])), (1, 2, PointStats.of([0.55, 0.56, 0.6])),
         (2, 2, PointStats.of([0.32, 0.3, 0.31]))]
    )  # fmt: skip
    model = fit_scaling(model_points(report), resamples=20)
    assert model is not None
    summary = json.loads(json.dumps(model.to_dict(4)))  # as the store keeps it
    assert REPORT_VERSION == 4
    assert sweep_markdown(report, summary, 4) == GOLDEN_SECTION.splitlines()


def test_the_kept_sections_are_made_anew_by_a_schema_step_for_each_report_version():
    # Else every section kept before a change of REPORT_VERSION is made anew at every
    # Markdown export, ten times as long, for as long as the store lives.
    kept = store_module.SECTIONS_KEPT_AT
    assert kept[max(kept)] == REPORT_VERSION  # the last step that keeps them keeps today's
    for step in store_module.SECTIONS_KEPT_AT:
        assert store_module._keep_reports in store_module.MIGRATIONS[step]


def test_a_point_deleted_while_its_sweep_runs_is_left_out_of_its_model(tmp_path):
    path = tmp_path / "kept.sqlite"
    with ResultStore.open(path) as store:
        sweep = store.start_sweep("rf-train", "small", "train", [1, 2, 4], 3, 1, ALPHA)
        ids = [store.add_point(result(t, fit_times=[1.0 / t] * 3), sweep) for t in (1, 2, 4)]
        model = model_of(store, sweep)  # what the session fits: every point it measured
        store.delete_points([ids[0]])  # `cpulab delete` from another shell, meanwhile
        store.finish_sweep(sweep, "done", model=model)
    (exported,) = json.loads(exports_of(path)["json"])["sweeps"]
    assert [p["cores"] for p in exported["model"]["points"]] == [2, 4]
    assert "1 x 1" not in exports_of(path)["markdown"]
    with ResultStore.open(path) as store:  # as the sweep itself would have fitted it
        assert exported["model"] == model_of(store, sweep)


def test_a_sweep_no_model_fits_is_still_edited(tmp_path):
    # A time of 0 s (a damaged or hand-made row) leaves its sweep without analysis or
    # model; deleting and restoring its points goes ahead all the same.
    with ResultStore.open(tmp_path / "kept.sqlite") as store:
        sweep = store.start_sweep("rf-train", "small", "train", [1, 2], 3, 1, ALPHA)
        ids = [store.add_point(result(t, fit_times=[0.0] * 3), sweep) for t in (1, 2)]
        store.finish_sweep(sweep, "done")
        assert store.delete_points([ids[1]]) == 1 and store.restore_points([ids[1]]) == 1


def test_a_deleted_point_is_left_out_of_the_analysis_exports_read(tmp_path):
    path = tmp_path / "kept.sqlite"
    grid_ids = store_of_every_kind(path)
    kept = "SELECT analysis, report, model FROM sweeps WHERE id = 1"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        before = conn.execute(kept).fetchone()
    with ResultStore.open(path) as store:
        store.delete_points([grid_ids[4]])  # the faster 2 x 2, the grid's best
        refitted = model_of(store, 1)  # as `cpulab sweep` fits the points left
    assert "| 4 | 2 x 2 * | 0.410 |" in exports_of(path)["markdown"]
    document = json.loads(exports_of(path)["json"])
    grid = document["sweeps"][0]
    assert len(grid["points"]) == 5 and grid["analysis"]["best"]["stats"]["median"] == 0.41
    # The model too is of the points left: at 4 cores the 2 x 2 of 0.41 s, not of 0.38
    # (its runs' mean, the slow third one in: fewer than 5 runs are not judged for outliers).
    four = next(p for p in grid["model"]["points"] if p["cores"] == 4)
    assert four["mean"] == pytest.approx((0.4 + 0.41 + 0.9) / 3)
    assert grid["model"] == refitted
    with ResultStore.open(path) as store:
        store.restore_points([grid_ids[4]])
    assert (
        json.loads(exports_of(path)["json"])["sweeps"][0]["analysis"]["best"]["stats"]["median"]
        == 0.38
    )
    with contextlib.closing(sqlite3.connect(path)) as conn:  # a restore undoes it exactly
        assert conn.execute(kept).fetchone() == before


def without_clock(text: str) -> str:
    return EXPORTED_AT_LINE.sub("", re.sub(r"Exported [^<]*<", "Exported <", text))


def test_a_variant_with_bars_and_line_breaks_stays_in_its_markdown_cell(tmp_path):
    variant = 'we|ird\nna"me.csv:la|b\x1b[31m'
    with ResultStore.open(tmp_path / "r.sqlite") as store:
        sweep = store.start_sweep("cv-eval", "small", "eval", [1, 2], 1, 0, ALPHA)
        for eval_ in (1, 2):
            store.add_point(result(1, eval_, task="cv-eval", variant=variant), sweep)
        store.finish_sweep(sweep, "done")
        store.add_point(result(1, 1, task="cv-eval", variant=variant))
        text = export_text("markdown", store)
    lines = text.splitlines()
    [heading] = [line for line in lines if line.startswith("## Sweep")]
    assert heading.startswith('## Sweep 1: cv-eval [we|ird\\nna"me.csv:la|b\\x1b[31m]')
    [row] = [line for line in lines if line.startswith("| 3 |")]
    assert row.count(" | ") == 6  # seven cells, as the header has
    assert 'we\\|ird\\nna"me.csv:la\\|b\\x1b[31m' in row
    assert "\x1b" not in text
