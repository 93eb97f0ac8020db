"""The run timeline on synthetic streams: the figures that arithmetic gives, aggregation of
tiny tasks, the stored size and round trip, the diagnosis, and the terminal views' sizes."""

import io
import json
import random

import pytest
from rich.console import Console
from rich.text import Text

from cpulab.engine.timeline import (
    TIMELINE_VERSION,
    CoreSamples,
    PhaseSpan,
    TaskSpan,
    Timeline,
    TimelineError,
    aggregate,
    cores_given,
    diagnosis,
    figures,
    phases_from_events,
)
from cpulab.engine.timeline_view import SEVERAL, figures_lines, gantt, heat_strip
from support.tui import make_result

T0 = 1_765_000_000.0  # a time.time(): every span is in seconds since the epoch


def waves(tasks: int, workers: int, length: float, start: float = T0) -> list[TaskSpan]:
    """Equal tasks handed in order to whichever worker is free first, as joblib does."""
    free = [start] * workers
    out = []
    for k in range(tasks):
        w = min(range(workers), key=lambda i: (free[i], i))
        out.append(TaskSpan(f"pid {4200 + w}", free[w], free[w] + length, f"fold {k}"))
        free[w] += length
    return out


@pytest.mark.parametrize(("tasks", "last"), [(30, 6), (26, 2)])
def test_equal_tasks_on_8_workers_leave_a_last_wave(tasks, last):
    # 30 = 3 x 8 + 6: three full waves, then 6 of 8 workers busy for one more task length.
    # With L = 2 s the call lasts 4 L = 8 s; the first workers to run out go idle at 3 L,
    # so the idle tail is L = 2 s, 25 % of the wall, all of it with `last` of 8 busy.
    # Each worker with 4 tasks is busy 4 L / 4 L = 100 %, one with 3 tasks 3 L / 4 L = 75 %.
    length = 2.0
    timeline = Timeline.build(tasks=waves(tasks, 8, length), calls=[(T0, T0 + 4 * length)])

    got = figures(timeline, cores_given=8)

    assert got.wall == pytest.approx(8.0)
    assert got.workers_given == 8
    assert got.idle_tail == pytest.approx(2.0)
    assert got.idle_tail_share == pytest.approx(0.25)
    assert got.imbalance_share == pytest.approx(0.25)
    assert got.last_wave == last
    assert sorted(w.busy for w in got.workers) == pytest.approx([0.75] * (8 - last) + [1.0] * last)
    assert sum(w.tasks for w in got.workers) == tasks
    assert got.serial == pytest.approx(0.0)  # never fewer than 2 workers busy
    assert got.cpu_seconds is None and got.efficiency is None  # no core samples
    assert diagnosis(got) == f"last wave: {last} of 8 workers busy for 25 % of the time"


def test_full_waves_leave_no_tail_and_no_diagnosis():
    timeline = Timeline.build(tasks=waves(16, 8, 1.0), calls=[(T0, T0 + 2.0)])
    got = figures(timeline, cores_given=8)
    assert got.idle_tail == pytest.approx(0.0)
    assert got.last_wave is None
    assert diagnosis(got) is None


def test_workers_busy_alike_read_as_one_figure_else_as_a_range_and_mean():
    alike = figures(Timeline.build(tasks=waves(16, 8, 1.0), calls=[(T0, T0 + 2.0)]), 8)
    assert "workers busy: 100 %" in figures_lines(alike)
    ragged = figures(Timeline.build(tasks=waves(30, 8, 2.0), calls=[(T0, T0 + 8.0)]), 8)
    assert "workers busy: 75 % to 100 %, mean 94 %" in figures_lines(ragged)  # 2 at 75, 6 at 100


def test_workers_asked_for_but_never_given_a_task_count_as_idle():
    # 3 tasks on a pool of 8: 3 of 8 busy for the whole call.
    timeline = Timeline.build(tasks=waves(3, 8, 1.0), calls=[(T0, T0 + 1.0)])
    got = figures(timeline, cores_given=8, workers_given=8)
    assert got.idle_tail_share == pytest.approx(1.0)
    assert diagnosis(got) == "last wave: 3 of 8 workers busy for 100 % of the time"


def trees(count: int, threads: int, length: float = 0.01, gap: float = 0.0001):
    """`count` trees, in blocks, on `threads` threads of one process, back to back."""
    per = count // threads
    return [
        TaskSpan(
            f"pid 4242 thread {t}",
            T0 + i * (length + gap),
            T0 + i * (length + gap) + length,
            f"tree {t * per + i}",
            level=1,
        )
        for t in range(threads)
        for i in range(per)
    ]


def test_an_imbalance_under_half_a_per_cent_is_said_as_such_not_as_0_per_cent():
    # Two workers, one done 10 ms before the other in a 10 s call.
    tasks = [TaskSpan("pid 4200", T0, T0 + 9.99, "fold 0"), TaskSpan("pid 4201", T0, T0 + 10)]
    got = figures(Timeline.build(tasks=tasks, calls=[(T0, T0 + 10)]), cores_given=2)
    assert got.imbalance_share == pytest.approx(0.001)
    assert "imbalance: some but not all of 2 workers busy for under 1 % of the time" in (
        figures_lines(got)
    )


def test_500_tiny_tasks_on_2_threads_are_merged_into_spans_and_say_so():
    timeline = Timeline.build(tasks=trees(500, 2))

    assert [(t.worker, t.count, t.label) for t in timeline.tasks] == [
        ("pid 4242 thread 0", 250, "tree 0-249"),
        ("pid 4242 thread 1", 250, "tree 250-499"),
    ]
    assert timeline.task_count == 500 and timeline.aggregated == 500
    assert timeline.merge_gap == 0.005
    got = figures(timeline, cores_given=2)
    assert [w.tasks for w in got.workers] == [250, 250]
    assert [w.busy for w in got.workers] == pytest.approx([1.0, 1.0])
    assert "tasks: 500 in 2 spans, 500 of them merged into spans (tasks closer than 5 ms)" in (
        figures_lines(got)
    )
    row = gantt(timeline, 80, 3).plain.splitlines()[0]
    assert set(row.split(maxsplit=3)[-1]) == {SEVERAL}


def test_aggregation_bounds_the_spans_and_leaves_few_tasks_alone():
    # 10 ms gaps are above the 5 ms gap: the gap doubles until 500 tasks fit in 100 spans.
    spaced = [TaskSpan("w", T0 + i * 0.03, T0 + i * 0.03 + 0.02, f"t {i}") for i in range(500)]
    few = [TaskSpan("v", T0 + i, T0 + i + 0.5) for i in range(5)]
    spans, gap = aggregate(spaced + few, most=100)
    assert len([s for s in spans if s.worker == "w"]) <= 100
    assert sum(s.count for s in spans if s.worker == "w") == 500
    assert gap is not None and gap >= 0.01
    assert [s for s in spans if s.worker == "v"] == few
    assert aggregate(few) == (few, None)


def big_timeline() -> Timeline:
    """A 60 s run on 256 cores sampled at 4 Hz, with random (incompressible) values."""
    rng = random.Random(16)
    samples = 60 * 4
    cores = CoreSamples.from_percent(
        T0,
        0.25,
        range(256),
        ([rng.uniform(0, 100) for _ in range(256)] for _ in range(samples)),
        [rng.uniform(0, 256) for _ in range(samples)],
    )
    phases = (
        PhaseSpan("imports", T0, T0 + 1.5),
        PhaseSpan("workers", T0 + 1.5, T0 + 4.0),
        PhaseSpan("fit", T0 + 4.0, T0 + 58.0, point=0, repeat=1),
        PhaseSpan("score", T0 + 58.0, T0 + 60.0, point=0),
    )
    tasks = [*waves(300, 64, 0.7, T0 + 4.0), *trees(500, 2)]
    return Timeline.build(cores, phases, tasks, [(T0 + 4.0, T0 + 58.0)])


def test_a_60_s_run_on_256_cores_stores_in_under_300_kB_and_round_trips_exactly():
    timeline = big_timeline()
    text = json.dumps(timeline.to_dict(), allow_nan=False)

    # 240 samples x 256 cores = 61,440 bytes of half-percents; random values do not
    # compress, so base64 makes about 82 kB of them; the 302 task spans add about 30 kB.
    assert len(text) < 300_000, len(text)
    back = Timeline.from_dict(json.loads(text))
    assert back == timeline
    assert back is not None and back.cores is not None and timeline.cores is not None
    assert back.cores.percent(17, 200) == timeline.cores.percent(17, 200)
    assert json.loads(text)["timeline_version"] == TIMELINE_VERSION


def test_samples_keep_half_percents_and_hundredths_of_a_core():
    cores = CoreSamples.from_percent(T0, 0.5, [0, 2], [[12.26, 100.4], [0.0, 99.74]], [1.234, 0])
    assert [cores.percent(0, 0), cores.percent(0, 1), cores.percent(1, 1)] == [12.5, 100.0, 99.5]
    assert cores.own_cores(0) == 1.23
    assert cores.end == T0 + 1.0
    assert list(cores.sample_range(T0 + 0.4, T0 + 0.6)) == [0, 1]


def test_a_result_without_a_timeline_reads_none_and_a_bad_one_says_why():
    assert Timeline.from_dict(None) is None
    with pytest.raises(TimelineError, match="version 2"):
        Timeline.from_dict({"timeline_version": 2})
    with pytest.raises(TimelineError, match="not a timeline"):
        Timeline.from_dict(
            {
                "timeline_version": 1,
                "workers": [],
                "tasks": {
                    "worker": [0],
                    "start": [1.0],
                    "end": [2.0],
                    "label": [""],
                    "level": [0],
                    "count": [1],
                },
            }
        )
    with pytest.raises(TimelineError):
        Timeline.from_dict(
            {
                "timeline_version": 1,
                "cores": {"t0": T0, "interval": 0.25, "cores": [0], "values": "not base64!"},
            }
        )


def grid_search(refit: float = 2.5) -> tuple[list[TaskSpan], float]:
    """150 fits of 0.1 s on 2 workers, 75 each back to back (7.5 s), then the refit alone in
    the runner for `refit` seconds; the end of the call."""
    fits = [
        TaskSpan(f"pid {4300 + w}", T0 + i * 0.1, T0 + (i + 1) * 0.1, f"candidate {2 * i + w}")
        for w in range(2)
        for i in range(75)
    ]
    return fits, T0 + 7.5 + refit


def test_a_grid_search_refit_is_the_serial_stretch_at_the_end():
    # 4 Hz samples: 2 cores busy over the 7.5 s of fits, 1 over the 2.5 s refit. Serial time
    # is 2.5 s of 10 s = 25 %, all of it at the end; the 2 workers stop together, so there
    # is no last wave.
    fits, end = grid_search()
    own = [2.0] * 30 + [1.0] * 10
    rows = [[100.0, 100.0] if share == 2.0 else [100.0, 0.0] for share in own]
    cores = CoreSamples.from_percent(T0, 0.25, [0, 1], rows, own)
    timeline = Timeline.build(cores, tasks=fits, calls=[(T0, end)])

    got = figures(timeline, cores_given=2)

    assert got.serial == pytest.approx(2.5) and got.serial_at_end == pytest.approx(2.5)
    assert got.cpu_seconds == pytest.approx(2 * 7.5 + 2.5)
    assert got.efficiency == pytest.approx(17.5 / 20)
    assert got.imbalance == pytest.approx(0.0)
    assert diagnosis(got) == "serial stretch at the end: 1 core busy for 25 % of the time"
    # The same from the tasks alone: no task runs in the refit, no worker is busy.
    alone = figures(Timeline.build(tasks=fits, calls=[(T0, end)]), cores_given=2)
    assert alone.serial == pytest.approx(2.5) and alone.serial_at_end == pytest.approx(2.5)
    assert diagnosis(alone) == diagnosis(got)


def test_a_1x1_run_is_measured_on_the_one_core_it_was_given():
    # A 1 x 1 run on 2 cores: one core busy all through the 10 s call. It used all it was
    # given, and its serial time is the split, not a cause.
    own = [1.0] * 40
    cores = CoreSamples.from_percent(T0, 0.25, [0, 1], [[100.0, 0.0]] * 40, own)
    timeline = Timeline.build(cores, calls=[(T0, T0 + 10)])
    got = figures(timeline, cores_given(make_result("cv-eval", 1, 1, 10.0, available=2)))
    assert got.cores_given == 1 and got.efficiency == pytest.approx(1.0)
    assert got.serial_share == pytest.approx(1.0) and diagnosis(got) is None
    assert figures_lines(got)[:2] == [
        "measured call: 10.00 s on 1 core given",
        "CPU: 10.0 core-seconds, efficiency 100 % (from the core samples: CPU seconds / (wall x"
        " cores given))",
    ]
    # A short call whose samples read more than its one core says so, not "108 %".
    over = CoreSamples.from_percent(T0, 0.25, [0, 1], [[100.0, 8.0]] * 2, [1.08] * 2)
    short = figures(Timeline.build(over, calls=[(T0, T0 + 0.5)]), 1)
    assert figures_lines(short)[1] == (
        "CPU: 0.54 core-seconds, efficiency 100 % "
        "(from the core samples: CPU seconds / (wall x cores given); the samples read 108 %)"
    )


def test_the_cores_given_count_blas_threads_and_a_clusters_threads_up_to_the_available():
    def given(train, eval_, available, **fields):
        return cores_given(make_result("cv-eval", train, eval_, 1.0, available=available, **fields))

    assert [given(4, 2, 16), given(4, 2, 2), given(1, 1, 0)] == [8, 2, 1]
    assert given(1, 1, 8, options={"blas_threads": 4}) == 4
    assert given(1, 1, 8, options={"blas_threads": None}) == 1
    # On Dask the cluster's threads are the cores: those of the workers the point used.
    assert given(1, 1, 8, details={"cluster": {"threads": 4}}) == 4
    assert given(1, 2, 8, details={"cluster": {"threads": 6, "used_threads": 3}}) == 3


def test_a_task_that_fills_the_serial_stretch_names_it():
    fits, end = grid_search()
    refit = TaskSpan("pid 4242 thread 0", T0 + 7.5, end, "refit", level=1)
    got = figures(Timeline.build(tasks=[*fits, refit], calls=[(T0, end)]), cores_given=2)
    assert diagnosis(got) == "serial stretch at the end: 1 core busy for 25 % of the time (refit)"


def test_a_call_short_beside_the_samples_reads_its_cpu_as_rough_and_names_no_idle_cores():
    # A 0.33 s call on 2 workers, both busy all through it, between two 0.25 s samples
    # that straddle its start (idle before it) and its end: 55 % read, 100 % true.
    call = (T0 + 0.1, T0 + 0.43)
    tasks = [TaskSpan("pid 4200", *call, "fold 0"), TaskSpan("pid 4201", *call, "fold 1")]
    samples = CoreSamples.from_percent(T0, 0.25, [0, 1], [[0.0, 0.0], [100.0, 100.0]], [0, 2])
    got = figures(Timeline.build(samples, tasks=tasks, calls=[call]), cores_given=2)
    assert got.efficiency == pytest.approx(0.545, abs=0.001) and got.cpu_rough
    assert diagnosis(got) is None
    assert figures_lines(got)[1].endswith(
        "; rough: the call is short beside the samples' interval)"
    )
    # Samples that fall within the call are read as they are, however few.
    aligned = CoreSamples.from_percent(T0, 0.25, [0, 1], [[50.0, 50.0]] * 2, [1.0] * 2)
    got = figures(Timeline.build(aligned, calls=[(T0, T0 + 0.5)]), cores_given=2)
    assert got.efficiency == pytest.approx(0.5) and not got.cpu_rough
    assert "rough" not in figures_lines(got)[1]


def test_start_up_and_idle_cores_are_named_when_nothing_else_dominates():
    phases = [
        PhaseSpan("imports", T0, T0 + 1),
        PhaseSpan("workers", T0 + 1, T0 + 4),
        PhaseSpan("fit", T0 + 4, T0 + 10, repeat=1),
    ]
    tasks = waves(16, 8, 3.0, T0 + 4)
    started = figures(Timeline.build(phases=phases, tasks=tasks, calls=[(T0 + 4, T0 + 10)]), 8)
    assert started.startup_share == pytest.approx(0.3)
    assert diagnosis(started) == "start-up: 30 % of the run starting workers"

    # Every worker busy, yet the run kept only 4 of 8 cores busy (the workers wait on I/O).
    cores = CoreSamples.from_percent(T0 + 4, 1.0, range(8), [[50.0] * 8] * 6, [4.0] * 6)
    idle = figures(Timeline.build(cores, tasks=tasks, calls=[(T0 + 4, T0 + 10)]), 8)
    assert idle.efficiency == pytest.approx(0.5)
    assert diagnosis(idle) == "cores idle: efficiency 50 %"


def test_phase_events_become_spans():
    class Mark:
        def __init__(self, name, t, repeat=None):
            self.name, self.t, self.repeat, self.point = name, t, repeat, None

    spans = phases_from_events([Mark("fit", T0 + 2, 1), Mark("imports", T0)], T0 + 5)
    assert spans == (PhaseSpan("imports", T0, T0 + 2), PhaseSpan("fit", T0 + 2, T0 + 5, None, 1))


def rendered(text: Text, width: int = 80) -> list[str]:
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(text)
    return console.export_text().splitlines()


def test_a_heat_strip_of_256_cores_groups_them_into_the_rows_given_at_80_columns():
    timeline = big_timeline()
    for height in (24, 18, 6):
        lines = rendered(heat_strip(timeline, 80, height))
        assert len(lines) == height
        assert max(len(line) for line in lines) <= 80
        assert lines[0].startswith("phase") and lines[1].startswith("run")
        groups = [line.split()[0] for line in lines[2:-1]]
        covered = [
            core
            for group in groups
            for core in range(int(group.split("-")[0]), int(group.split("-")[-1]) + 1)
        ]
        assert covered == list(range(256)), groups  # every core, in one row each
        assert "0s" in lines[-1]


def test_a_gantt_tells_tasks_apart_and_zooms_at_80_columns():
    length = 2.0
    timeline = Timeline.build(tasks=waves(30, 8, length), calls=[(T0, T0 + 4 * length)])
    lines = rendered(gantt(timeline, 80, 24))
    assert len(lines) == 9  # 8 workers and the time axis
    assert max(len(line) for line in lines) <= 80
    row = lines[0][lines[0].index("█") :]
    assert "▓" in row  # the second task of the worker looks different from the first

    # Zoomed to the last wave: 6 rows full, the 2 idle workers' rows empty.
    zoomed = rendered(gantt(timeline, 80, 24, start=T0 + 3 * length, end=T0 + 4 * length))
    plots = [line[len("pid 4200 ") :] for line in zoomed[:-1]]
    assert [bool(plot.strip()) for plot in plots] == [True] * 6 + [False] * 2
    assert zoomed[-1].split() == ["6s", "6.5s", "7s", "7.5s"]  # a label every 8+ cells


def test_many_workers_are_grouped_into_the_rows_given():
    timeline = Timeline.build(tasks=waves(200, 64, 1.0), calls=[(T0, T0 + 4.0)])
    lines = rendered(gantt(timeline, 80, 10))
    assert len(lines) == 10 and max(len(line) for line in lines) <= 80
    # 64 workers in 9 rows: groups of 7 and 8, every worker in one.
    groups = [line.split()[0] for line in lines[:-1]]
    assert groups[0] == "w0-6" and groups[-1] == "w56-63"
    assert [int(g[1:].split("-")[0]) for g in groups[1:]] == [
        int(g.split("-")[1]) + 1 for g in groups[:-1]
    ]


def test_views_of_an_empty_timeline_say_so():
    assert heat_strip(Timeline(), 80, 10).plain == "no core samples recorded"
    assert gantt(Timeline(), 80, 10).plain == "no tasks recorded"


def test_spans_that_json_cannot_store_are_refused_when_made():
    with pytest.raises(TimelineError, match="fold 1"):
        TaskSpan("pid 1", T0, float("nan"), "fold 1")
    with pytest.raises(TimelineError, match="phase fit"):
        PhaseSpan("fit", T0 + 1, T0)


@pytest.mark.parametrize(
    ("phases", "expected"),
    [
        # data, a column wide, keeps its letter; the "·" that parts names comes after it
        ((("imports", 3), ("data", 1), ("fit", 6)), "i··d·fit··"),
        # then workers, a column too, has no room for more than the "·"
        ((("imports", 3), ("data", 1), ("workers", 1), ("fit", 5)), "i··d·fit··"),
        ((("imports", 2), ("data", 2), ("fit", 6)), "i·d·fit 1·"),
    ],
)
def test_a_phase_one_column_wide_does_not_run_into_the_next(phases, expected):
    spans, start = [], T0
    for name, seconds in phases:
        repeat = 1 if name == "fit" else None
        spans.append(PhaseSpan(name, start, start + seconds, None, repeat))
        start += seconds
    samples = 40  # 10 s at 4 Hz on 2 cores: a column a second at 10 columns
    cores = CoreSamples.from_percent(
        T0, 0.25, range(2), ([50.0, 50.0] for _ in range(samples)), [1.0] * samples
    )
    timeline = Timeline.build(cores, tuple(spans), [], [(spans[-1].start, spans[-1].end)])
    assert rendered(heat_strip(timeline, len("phase ") + 10, 6))[0] == f"phase {expected}"
