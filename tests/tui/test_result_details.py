"""The details of one result: every field of its record, its speedup and where it is
stored, readable at 80 x 24; Escape or q closes them."""

import time
from datetime import datetime

import pytest
from textual.containers import VerticalScroll
from textual.widgets import Static

from cpulab.engine.events import PARTIAL
from cpulab.engine.presentation import FLAG_MEANINGS, model_scores
from cpulab.engine.stats import PointStats
from cpulab.ui.scaling import Entry, speedups
from cpulab.ui.screens.result_details import ResultDetails
from support.screens import ScreenHost, drawn_text, screen_text, words
from support.store import result
from support.tui import make_result

POOL = {"user_api": "blas", "internal_api": "openblas", "version": "0.3.30",
        "threading_layer": "pthreads"}  # fmt: skip
OPENMP = {"user_api": "openmp", "internal_api": "openmp", "version": None,
          "threading_layer": None}  # fmt: skip
DATA = {"path": "/data/houses.csv", "target": "price", "drop": ["id"], "kind": "regression",
        "header": True, "delimiter": ",", "shown_kind": None}  # fmt: skip
# A 2 x 2 point of a regression on the user's data, with every field filled in: six runs,
# the first slow, and a machine that was busy besides.
POINT = result(
    2,
    2,
    task="compare-regressors",
    title="Compare regressors",
    available=4,
    fit_times=[0.9, 0.5, 0.52, 0.51, 0.5, 0.49],
    warmup_times=[1.4],
    worker_times=[1.21, 0.07],
    metric="rmse",
    score=9.42,
    details={"rmse": {"ridge": 9.42, "NuSVR": 195.2}, "best_model": "ridge"},
    flags=["oversubscribed", "noisy"],
    load={"other_cores": 0.61, "steal_cores": 0.0, "iowait_cores": 0.02},
    variant="houses.csv:price",
    options={"data": DATA, "backend": "loky", "cluster": None, "blas_threads": 2},
    threads={
        "runner": [{**POOL, "num_threads": 2}, {**OPENMP, "num_threads": 2}],
        "workers": [
            {"worker": 101, **POOL, "num_threads": 1},
            {"worker": 101, **OPENMP, "num_threads": 1},
            {"worker": 102, **OPENMP, "num_threads": 1},  # the same pools, in its own order
            {"worker": 102, **POOL, "num_threads": 1},
        ],
    },
)
BASE = result(1, 1, task=POINT.task, title=POINT.title, variant=POINT.variant,
              options=POINT.options, fit_times=[1.9, 2.0, 2.2])  # fmt: skip
CREATED = 1_700_000_000.0


def stored(point, point_id, created_at=CREATED):
    return Entry(point, point_id=point_id, sweep="4", this_session=False, created_at=created_at)


def details_of(entry=None, gain=None):
    entries = [stored(BASE, 7, CREATED - 60), entry or stored(POINT, 12)]
    gain = gain or speedups(entries)[id(entries[1])]
    return ResultDetails(entries[1], gain), gain


async def shown(screen, size=(80, 24)) -> str:
    async with ScreenHost(screen).run_test(size=size) as pilot:
        await pilot.pause()
        return words(screen_text(pilot.app.screen))


def strings_in(value):
    """Every string in a record, however deep."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings_in(item)


async def test_the_figures_of_a_result_are_shown():
    screen, gain = details_of()
    text = await shown(screen)
    stats = PointStats.of(POINT.fit_times)
    assert stats.first_run_slow and stats.outliers == (0,)
    figures = [
        # the split and the measured times, with their statistics
        "compare-regressors [houses.csv:price]",
        "2 training x 2 evaluation = 4 of 4 available cores",
        f"median {stats.median:.3f} s",
        f"min {stats.min:.3f} s",
        f"max {stats.max:.3f} s",
        f"MAD {stats.mad:.3f} s",
        f"n {stats.n} measured runs",
        ", ".join(f"{t:.3f}" for t in POINT.fit_times[1:]),
        f"{POINT.fit_times[0]:.3f} (outlier)",
        "outliers runs 1",
        "first run slow yes",
        f"warm-ups {POINT.warmup_times[0]:.3f} s",
        # set-up and resources
        *(f"{name} {seconds:.2f} s" for name, seconds in POINT.setup.items()),
        "worker starts 1.21, 0.07 s",
        f"CPU time {POINT.cpu_time:.2f} s",
        f"peak memory {POINT.peak_rss / 2**20:.0f} MiB",
        "other work 0.61 cores",
        "I/O wait 0.02 cores",
        # the score, flags and warnings
        f"score {POINT.score:.4f}",
        f"metric {POINT.metric}",
        f"per model {model_scores(POINT)}",
        "best model ridge",
        *(f"flag {flag}: {FLAG_MEANINGS[flag]}" for flag in POINT.flags),
        *stats.warnings(),
        # the thread pools, options, machine and software
        "runner openblas 0.3.30 (blas, pthreads): 2 threads openmp (openmp): 2 threads",
        "workers 2 workers: 101, 102",
        "data /data/houses.csv target price drop id kind regression delimiter ',' header row yes",
        "BLAS threads 2",
        "hostname alpha",
        "CPU model AMD EPYC 7763",
        "affinity 0-15",
        "python 3.11.9",
        "libraries scikit-learn 1.5.0, numpy 2.0.0",
        # where it is stored, and its speedup over which baseline
        "stored point 12, read from the history",
        f"created {datetime.fromtimestamp(CREATED):%Y-%m-%d %H:%M:%S}",
        f"speedup {gain.value:.2f}x the 1 x 1 speed, efficiency {gain.value / 4:.0%}",
        "stored point 7",
        f"created {datetime.fromtimestamp(CREATED - 60):%Y-%m-%d %H:%M:%S}",
        f"median {gain.baseline_stats.median:.3f} s, MAD {gain.baseline_stats.mad:.3f} s",
    ]
    assert [figure for figure in figures if figure not in text] == []


async def test_every_text_of_the_record_is_shown():
    screen, _ = details_of()
    text = await shown(screen, size=(160, 50))
    record = POINT.record()
    missing = [value for value in strings_in(record) if value and value not in text]
    assert missing == []
    # A field no row knows by name is shown all the same, by its key.
    assert 'nested {"folds": [1, 2]}' in await shown(ResultDetails(result()))


async def test_a_result_of_this_session_with_little_recorded():
    bare = make_result("rf-train", 1, 1, 2.0, flags=[PARTIAL])
    text = await shown(ResultDetails(bare))
    for row in (
        "stored not stored",
        "sweep none: a single run",
        "thread pools not recorded",
        "load not recorded",
        "machine not recorded",
        "software not recorded",
        f"flag partial: {FLAG_MEANINGS[PARTIAL]}",
        "outliers not judged below 5 runs",
    ):
        assert row in text
    assert "Speedup" not in text  # none was given


async def test_a_point_of_an_advice_search_names_the_batch_it_was_measured_in():
    entry = Entry(make_result("rf-train", 2, 1, 1.0), point_id=9, sweep="advice 2", batch="5")
    assert "sweep advice 2, its batch sweep 5" in await shown(ResultDetails(entry))


async def test_it_scrolls_and_fits_80_columns():
    screen, _ = details_of()
    async with ScreenHost(screen).run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        box = screen.query_one(VerticalScroll)
        assert box.has_focus
        assert box.max_scroll_x == 0  # long values wrap: nothing to scroll sideways
        assert box.max_scroll_y > 0
        # The split and its median time are in view before any scrolling.
        times = next(w for w in screen.query(Static) if "median" in drawn_text(w))
        assert box.region.contains_region(times.region)
        await pilot.press("end")
        await pilot.pause()
        assert box.scroll_y == box.max_scroll_y


@pytest.mark.parametrize("key", ["escape", "q"])
async def test_escape_and_q_close_it(key):
    screen, _ = details_of()
    async with ScreenHost(screen).run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert pilot.app.screen is screen
        await pilot.press(key)
        await pilot.pause()
        assert pilot.app.screen is not screen


async def test_machine_conditions_show_each_item_and_the_advice_of_warned_ones():
    conditions = {
        "governor": {"value": "powersave on CPUs 0-3", "status": "warn",
                     "advice": "sudo cpupower frequency-set -g performance"},
        "smt": {"value": "off (control off)", "status": "info"},
        "cpu_quota": {"value": "1.5 CPUs (/sys/fs/cgroup/job/cpu.max)", "status": "warn",
                      "advice": "joblib counts 2 cores", "since": "later"},
    }  # fmt: skip
    text = await shown(ResultDetails(result(conditions=conditions)), size=(160, 80))
    assert "Machine conditions" in text
    for row in (
        "CPU governor powersave on CPUs 0-3",
        "warning sudo cpupower frequency-set -g performance",
        "SMT off (control off)",
        "CPU quota 1.5 CPUs (/sys/fs/cgroup/job/cpu.max)",
        "warning joblib counts 2 cores",
        "since later",  # a key no row knows, shown all the same
    ):
        assert row in text, row
    assert "Machine conditions" not in await shown(ResultDetails(result()), size=(160, 80))


@pytest.fixture
def utc(monkeypatch):
    """Times shown as in UTC, whatever the machine's zone: screenshots stay the same."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
def test_screenshot(snap_compare, utc, size):
    """Compared with an approved SVG (pytest --snapshot-update to renew)."""
    screen, _ = details_of()
    assert snap_compare(ScreenHost(screen), terminal_size=size)


async def test_cpu_read_above_the_cores_of_a_short_call_says_all_were_busy():
    # 0.33 CPU-seconds in a 0.16 s call on 2 cores: each process's CPU is read in 10 ms
    # ticks, so a short call can read above its cores; the row says all were busy.
    short = make_result("cv-eval", 1, 2, 0.16, cpu_time=0.33, available=2)
    assert "all 2 cores busy (2.1 in 10 ms CPU ticks)" in await shown(ResultDetails(short))
    steady = make_result("cv-eval", 1, 2, 0.16, cpu_time=0.3, available=2)
    assert "1.9 cores busy on average" in await shown(ResultDetails(steady))


async def test_the_machine_topology_is_in_words_not_json():
    topology = {"summary": "2 packages x 8 cores x 2 threads, 2 NUMA nodes", "cpus": 32,
                "physical_cores": 16, "packages": 2, "numa_nodes": {"0": "0-15", "1": "16-31"},
                "threads_per_core": 2, "isolated": "", "smt_known": True}  # fmt: skip
    on_it = result(machine={"hostname": "beta", "topology": topology})
    text = await shown(ResultDetails(on_it), size=(160, 80))
    assert "topology 2 packages x 8 cores x 2 threads, 2 NUMA nodes" in text
    assert "NUMA nodes node 0: CPUs 0-15; node 1: CPUs 16-31" in text
    assert "isolated CPUs none" in text
    assert "smt" not in text and '{"summary' not in text
