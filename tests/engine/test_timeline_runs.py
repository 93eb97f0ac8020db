"""Timelines recorded by real runs: the joblib tasks of the measured call per worker and
level, the per-core samples over it, stored with the result, exported, and shown by
`cpulab show`; and the pieces that record them, on fakes."""

from __future__ import annotations

import json
import os
import pickle
import time

import numpy as np
import pytest

from cpulab.engine import taskstream
from cpulab.engine.coretrace import CoreRecorder, parse_proc_stat
from cpulab.engine.events import PARTIAL, Result, event_from_dict
from cpulab.engine.store import ResultStore
from cpulab.engine.taskstream import TaskProbe, dask_spans, threads_numbered_in_call
from cpulab.engine.timeline import MOST_SPANS, TaskSpan, Timeline, figures
from cpulab.engine.timeline_view import figures_lines
from support.cli import cpulab
from support.store import result as stored_result

RUNS = {
    "cv-eval": ("--train", "1", "--eval", "2"),
    "rf-train": ("--train", "2", "--eval", "1", "--repeats", "2"),
    "grid-search": ("--train", "1", "--eval", "2"),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One real run of each, small scale, stored in one store: result id 1, 2, 3."""
    db = tmp_path_factory.mktemp("timeline") / "results.db"
    results = {}
    for task, split in RUNS.items():
        done = cpulab("run", task, *split, "--json", "--db", str(db), timeout=240)
        assert done.returncode == 0, done.stderr
        results[task] = json.loads(done.stdout)
    return db, results


def timeline_of(record: dict) -> Timeline:
    timeline = Timeline.from_dict(record["timeline"])
    assert timeline is not None
    return timeline


def worker_pids(record: dict) -> set[str]:
    return {f"pid {pool['worker']}" for pool in record["threads"]["workers"]}


def test_cv_eval_folds_are_level_0_tasks_in_two_worker_processes(runs):
    record = runs[1]["cv-eval"]
    timeline = timeline_of(record)
    # Small scale: 5 folds x 2 repeats. joblib may batch folds: a span counts its calls.
    assert timeline.task_count == 10
    assert {task.level for task in timeline.tasks} == {0}
    workers = {task.worker for task in timeline.tasks}
    assert len(workers) == 2 and workers == worker_pids(record)  # loky's, by process
    assert all(task.label.startswith("fold ") for task in timeline.tasks)
    (call,) = timeline.calls
    assert all(call[0] <= t.start <= t.end <= call[1] for t in timeline.tasks)


def test_cv_eval_at_full_scale_is_30_folds_each_a_task_on_two_worker_processes(tmp_path):
    # The seed's 3 x repeated 10-fold CV, as the task runs it at full scale (about 4 s).
    done = cpulab("run", "cv-eval", "--scale", "full", *RUNS["cv-eval"], "--json",
                  "--db", str(tmp_path / "r.db"), timeout=240)  # fmt: skip
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    timeline = timeline_of(record)
    assert timeline.task_count == 30 and {task.level for task in timeline.tasks} == {0}
    assert {task.worker for task in timeline.tasks} == worker_pids(record)
    assert len(worker_pids(record)) == 2


def test_rf_train_trees_run_in_two_threads_of_the_runner(runs):
    record = runs[1]["rf-train"]
    timeline = timeline_of(record)
    assert timeline.task_count == 100  # small: 50 trees, in each of two measured calls
    workers = {task.worker for task in timeline.tasks}
    # Each call makes its pool of two threads anew: they are named the same in each.
    assert len(workers) == 2
    processes = {worker.split(" thread ")[0] for worker in workers}
    assert len(processes) == 1 and all(" thread " in worker for worker in workers)
    assert {task.level for task in timeline.tasks} == {0}
    assert {task.label for task in timeline.tasks} == {f"tree {i}" for i in range(50)}
    got = figures(timeline, cores_given=2)
    assert got.workers_given == 2 and all(w.busy > 0.5 for w in got.workers)
    assert figures_lines(got)[0].startswith("2 measured calls: ")


def test_grid_search_fits_then_the_refit_alone_at_the_end(runs):
    record = runs[1]["grid-search"]
    timeline = timeline_of(record)
    fits = [task for task in timeline.tasks if task.label.startswith("fit")]
    (refit,) = [task for task in timeline.tasks if task.label == "refit"]
    # Small scale: 5 candidates x 3 folds = 15 fits on the 2 loky workers, then the
    # refit of the best candidate in the runner, one tree after another (10 trees).
    assert sum(task.count for task in fits) == 15
    assert {task.worker for task in fits} == worker_pids(record)
    assert refit.worker not in worker_pids(record) and refit.count == 10
    assert refit.start >= max(task.end for task in fits)
    got = figures(timeline, cores_given=record["available"])
    (call,) = timeline.calls
    # The refit lies in the call's final serial stretch: after the last fit, one core.
    assert got.serial_at_end is not None
    assert call[1] - got.serial_at_end <= refit.start
    assert got.workers_given == 3  # the two processes and the runner's refit


@pytest.mark.parametrize("backend", ["loky", "multiprocessing"])
def test_trees_nested_in_folds_are_level_1_in_threads_of_the_fold_processes(tmp_path, backend):
    done = cpulab(
        "run", "cv-eval", "--train", "2", "--eval", "2", "--allow-oversubscribe",
        "--backend", backend, "--json", "--db", str(tmp_path / "r.db"), timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    timeline = timeline_of(json.loads(done.stdout))
    folds = [task for task in timeline.tasks if task.level == 0]
    trees = [task for task in timeline.tasks if task.label.startswith("tree")]
    assert sum(task.count for task in folds) == 10
    assert sum(task.count for task in trees) == 10 * 10  # 10 trees in each fold
    processes = {task.worker for task in folds}
    assert len(processes) == 2
    assert {task.level for task in trees} == {1}
    assert {task.worker.split(" thread ")[0] for task in trees} == processes
    assert all(" thread " in task.worker for task in trees)
    # Each tree ran inside a fold of its own process.
    for tree in trees:
        process = tree.worker.split(" thread ")[0]
        assert any(
            fold.worker == process and fold.start <= tree.start and tree.end <= fold.end
            for fold in folds
        )


def test_dask_tasks_come_from_the_scheduler_by_worker_address(tmp_path):
    pytest.importorskip("distributed")
    done = cpulab(
        "run", "grid-search", "--dask", "local:2", "--json", "--db", str(tmp_path / "r.db"),
        timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    timeline = timeline_of(json.loads(done.stdout))
    counts: dict[str, int] = {}
    for task in timeline.tasks:
        name = task.label.split(" ")[0]
        counts[name] = counts.get(name, 0) + task.count
    # Only the search's fits went to the cluster, each fit's trees inside its worker; the
    # refit ran in the runner, its trees one after another, and is recorded there.
    assert counts.pop("fit") == 15 and list(counts) == ["refit"]
    on_cluster = {task.worker for task in timeline.tasks if task.label != "refit"}
    assert len(on_cluster) == 2 and all(w.startswith("tcp://") for w in on_cluster)
    (refit,) = (task for task in timeline.tasks if task.label == "refit")
    assert not refit.worker.startswith("tcp://")


def test_core_samples_cover_the_measured_call_with_the_runs_own_share(runs):
    for record in runs[1].values():
        timeline = timeline_of(record)
        cores = timeline.cores
        assert cores is not None
        assert list(cores.cores) == record["machine"]["cores"]["affinity"]
        calls = timeline.calls  # one a measured repeat: rf-train has two
        assert len(calls) == len(record["fit_times"])
        for call in calls:
            assert cores.t0 <= call[0] and cores.end >= call[1] - cores.interval
            inside = cores.sample_range(*call)
            assert len(inside) >= 1
            assert max(cores.own_cores(i) or 0 for i in inside) > 0
        # The phases run from the imports to the score, each call inside its "fit".
        names = [phase.name for phase in timeline.phases]
        assert names[0] == "imports" and names[-1] == "score"
        fits = [phase for phase in timeline.phases if phase.name == "fit"]
        assert len(fits) == len(calls)
        for fit, call in zip(fits, calls, strict=True):
            assert fit.start <= call[0] and call[1] <= fit.end


def test_the_stored_result_keeps_its_timeline_and_exports_it(runs):
    db, results = runs
    with ResultStore.open(db, readonly=True) as store:
        stored = {point.result.task: point.result for point in store.points()}
    for task, record in results.items():
        assert stored[task].timeline == record["timeline"]
    done = cpulab("export", "--format", "json", "--db", str(db))
    assert done.returncode == 0, done.stderr
    exported = {run["result"]["task"]: run["result"] for run in json.loads(done.stdout)["runs"]}
    assert exported["grid-search"]["timeline"] == results["grid-search"]["timeline"]


def test_show_draws_the_heat_strip_gantt_and_figures_within_80_columns(runs):
    db, _ = runs
    done = cpulab("show", "3", "--width", "80", "--db", str(db))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert lines[0].startswith("result #3: grid-search (small) at 1 x 2")
    labels = [line.split(" ")[0] for line in lines]
    assert {"phase", "run", "0", "1"} <= set(labels)  # the heat strip, a row per core
    assert sum(line.startswith("pid ") for line in lines) == 3  # the Gantt: 3 workers
    assert any(line.startswith("measured call: ") for line in lines)
    assert any(line.startswith("workers busy: ") for line in lines)
    assert any(line.startswith("tasks: 25 in ") for line in lines)  # 15 fits, 10 refit trees
    zoomed = cpulab("show", "3", "--width", "80", "--from", "0", "--to", "1", "--db", str(db))
    assert zoomed.returncode == 0 and zoomed.stdout.splitlines()[0] == lines[0]
    # Without --width, the terminal's, within the 40 to 1000 columns the views can draw.
    for columns, drawn in (("30", 40), ("5000", 1000)):
        env = {**os.environ, "COLUMNS": columns}
        sized = cpulab("show", "3", "--db", str(db), env=env)
        assert sized.returncode == 0, sized.stderr
        assert max(len(line) for line in sized.stdout.splitlines()) <= drawn


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("show", "4"), "cpulab: error: there is no stored result #4 in"),
        (("show", "0"), "cpulab show: error: argument RESULT_ID: result ids start at 1, not 0"),
        (("show", "x"), "cpulab show: error: argument RESULT_ID: expected a whole number"),
        (("show", "1", "--width", "10"), "cpulab: error: --width is 40 to 1000 columns, not 10"),
        (
            ("show", "1", "--from", "-1"),
            "cpulab show: error: argument --from: seconds into the run",
        ),
        (("show", "1", "--from", "3", "--to", "2"), "cpulab: error: --from 3.0 is not before"),
        (("show", "1", "--from", "1000"), "cpulab: error: --from 1000.0 is past the end of"),
        (
            ("show", "1", "--from", "1000", "--to", "2000"),
            "cpulab: error: --from 1000.0 is past the end of",
        ),
        (
            ("show", "3", "--from", "0.1", "--to", "0.1000001"),
            "cpulab: error: --from 0.1 to --to 0.1000001 is under 1 ms",
        ),
    ],
)
def test_show_refuses_bad_input_in_one_line(runs, args, says):
    db, _ = runs
    done = cpulab(*args, "--db", str(db))
    assert done.returncode == 2
    assert done.stdout == "" and len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith(says)


def test_show_says_why_a_result_has_no_timeline(tmp_path):
    db = tmp_path / "old.db"
    with ResultStore.open(db) as store:
        store.add_point(stored_result())
        store.add_point(stored_result(flags=[PARTIAL]))  # a run stopped by a signal
    said = []
    for point in ("1", "2"):
        done = cpulab("show", point, "--width", "80", "--db", str(db))
        assert done.returncode == 0, done.stderr
        said += done.stdout.splitlines()[1:]
    assert said == [
        "No timeline: this result was measured before timelines were recorded.",
        "No timeline: this result was cut short; only a finished point keeps a timeline.",
    ]


@pytest.mark.parametrize(
    ("timeline", "says"),
    [
        ({"timeline_version": 99}, "timeline version 99: this cpulab reads version 1"),
        ({"timeline_version": 1, "tasks": "x"}, "not a timeline"),
        ({"timeline_version": 1, "cores": {"t0": 0, "interval": 1, "cores": [0], "values": "!"}},
         "unreadable packed samples"),
    ],
)  # fmt: skip
def test_show_refuses_a_damaged_timeline_in_one_line(tmp_path, timeline, says):
    db = tmp_path / "damaged.db"
    with ResultStore.open(db) as store:
        store.add_point(stored_result(timeline=timeline))
    done = cpulab("show", "1", "--db", str(db))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("cpulab: error: result #1 has an unreadable timeline: ")
    assert says in done.stderr and len(done.stderr.splitlines()) == 1


def test_a_result_stored_without_a_timeline_reads_and_exports_as_before():
    record = json.loads(stored_result().to_json())
    assert "timeline" not in record  # stored as a result from before timelines was
    old = event_from_dict(record)
    assert isinstance(old, Result) and old.timeline is None
    assert "timeline" not in old.record()  # exports of older stores stay as they were
    with_one = stored_result(timeline={"timeline_version": 1})
    assert with_one.record()["timeline"] == {"timeline_version": 1}


def test_many_workers_under_their_own_limit_are_merged_to_the_total_limit():
    # 256 processes each running 150 fits of 0.4 s, 38,400 tasks: each worker is under
    # MOST_SPANS_PER_WORKER, together far over MOST_SPANS.
    t0 = 1_765_000_000.0
    tasks = [
        TaskSpan(
            f"pid {4000 + w}", t0 + k * 0.4 + 0.001 * (w % 7), t0 + k * 0.4 + 0.399, f"fit {k}"
        )
        for w in range(256)
        for k in range(150)
    ]
    timeline = Timeline.build(tasks=tasks, calls=[(t0, t0 + 60.0)])
    assert len(timeline.tasks) <= MOST_SPANS and timeline.task_count == 38_400
    assert timeline.merge_gap is not None and timeline.aggregated == 38_400
    assert len(json.dumps(timeline.to_dict())) < 300_000
    assert figures(timeline, cores_given=256).workers_given == 256


def fake_proc_stat(cpus: int) -> bytes:
    lines = ["cpu  1 2 3 4 5 6 7 8 0 0"]
    lines += [f"cpu{i} {100 + i} 0 {50 + i} 1000 10 1 2 0 0 0" for i in range(cpus)]
    lines += ["intr 1 2 3", "ctxt 42", "btime 1"]
    return ("\n".join(lines) + "\n").encode()


def test_proc_stat_is_parsed_for_the_cores_the_run_may_use():
    busy, total = parse_proc_stat(fake_proc_stat(8), [1, 6, 40])
    assert list(busy) == [101 + 51 + 1 + 2, 106 + 56 + 1 + 2, 0]  # user nice system irq softirq
    assert list(total) == [101 + 51 + 1000 + 10 + 1 + 2, 106 + 56 + 1000 + 10 + 1 + 2, 0]


def test_all_256_cores_are_parsed_in_one_go():
    # Its cost (0.15 to 0.3 ms at 256 cores, one numpy call) is not a test's to assert.
    busy, total = parse_proc_stat(fake_proc_stat(256), list(range(256)))
    assert list(busy) == [100 + i + 50 + i + 1 + 2 for i in range(256)]
    assert list(total) == [100 + i + 50 + i + 1000 + 10 + 1 + 2 for i in range(256)]


def test_core_recorder_resamples_readings_onto_a_regular_clock():
    # Core 0 busy all the time, core 1 half the time; the run's tree uses 1.5 cores. The
    # readings come at 4 Hz and once more at 0.3 s (the start of a measured call, say).
    now = [0.0]

    def read(cpus):
        return np.array([now[0] * 100, now[0] * 50]), np.array([now[0] * 100, now[0] * 100])

    recorder = CoreRecorder([0, 1], 0.25, read=read, clock=lambda: now[0])
    for t in (0.0, 0.25, 0.3, 0.5, 0.75, 1.0):
        now[0] = t
        recorder.record(tree_cpu=1.5 * t)
    samples = recorder.samples(0.0, 1.0)
    assert samples is not None and samples.samples == 4 and samples.t0 == 0.0
    assert [samples.percent(i, 0) for i in range(4)] == [100.0] * 4
    assert [samples.percent(i, 1) for i in range(4)] == [50.0] * 4
    assert [samples.own_cores(i) for i in range(4)] == [1.5] * 4
    recorder.trim(0.6)
    trimmed = recorder.samples(0.0, 1.0)
    assert trimmed is not None and trimmed.t0 == 0.5 and trimmed.samples == 2


def test_a_reading_just_after_another_never_reads_as_more_cores_than_there_are():
    # Both cores busy; CPU times move in ticks of 10 ms. The measuring code reads the tree
    # 4 ms after the meter did, a tick further on: 2.5 cores over those 4 ms, were it a row.
    now = [0.0]

    def read(cpus):
        ticks = round(now[0] * 100)
        return np.array([ticks, ticks]), np.array([ticks, ticks])

    recorder = CoreRecorder([0, 1], 0.25, read=read, clock=lambda: now[0])
    for t, cpu in ((0.0, 0.0), (0.25, 0.5), (0.5, 1.0), (0.75, 1.5), (0.754, 1.51)):
        now[0] = t
        recorder.record(tree_cpu=cpu)
    # The call ended at the last reading: a fourth sample would hold those 4 ms alone.
    samples = recorder.samples(0.0, 0.754)
    assert samples is not None and samples.samples == 3
    assert [samples.own_cores(i) for i in range(3)] == [2.0, 2.0, 2.0]


class Batch:
    """A picklable stand-in for joblib's BatchedCalls: two calls."""

    def __call__(self):
        time.sleep(0.01)
        return [1, 2]

    def __len__(self):
        return 2


def test_threads_are_numbered_within_each_call_by_their_first_task():
    spans = [
        TaskSpan("pid 7 thread 5", 2.0, 3.0, "tree 2"),
        TaskSpan("pid 7 thread 4", 1.0, 2.0, "tree 0"),
        TaskSpan("pid 7 thread 5", 3.0, 4.0, "tree 3"),
        TaskSpan("pid 8 thread 9", 1.5, 2.5, "tree 1"),
        TaskSpan("pid 8", 0.5, 4.0, "fold 0"),
    ]
    assert [s.worker for s in threads_numbered_in_call(spans)] == [
        "pid 7 thread 2", "pid 7 thread 1", "pid 7 thread 2", "pid 8 thread 1", "pid 8",
    ]  # fmt: skip


def test_a_task_probe_travels_by_pickle_and_times_its_batch_where_it_runs():
    probe = TaskProbe(Batch(), "/nonexistent", "fold 0-1", 0, origin=os.getpid())
    copy = pickle.loads(pickle.dumps(probe))
    before = time.time()
    assert copy() == [1, 2]
    state = taskstream._here()
    worker, start, end, label, level, calls = state.records.pop()
    assert worker == f"pid {os.getpid()}"  # the main thread: the process alone names it
    assert before <= start < end <= time.time() and end - start >= 0.01
    assert (label, level, calls) == ("fold 0-1", 0, 2)


def test_dask_task_stream_becomes_spans_by_worker_address():
    stream = [
        {
            "key": "batch_of__fit_and_score_2_calls-0a1b",
            "worker": "tcp://127.0.0.1:4001",
            "startstops": [
                {"action": "transfer", "start": 9.0, "stop": 10.0},
                {"action": "compute", "start": 10.0, "stop": 12.0},
            ],
        },
        {
            "key": "mixed_batch_of__fit_and_score_1_calls-ffff",
            "worker": "tcp://127.0.0.1:4002",
            "startstops": [{"action": "compute", "start": 10.5, "stop": 11.0}],
        },
    ]
    spans = dask_spans(stream)
    assert [(s.worker, s.start, s.end, s.label, s.count) for s in spans] == [
        ("tcp://127.0.0.1:4001", 10.0, 12.0, "fit 0-1", 2),
        ("tcp://127.0.0.1:4002", 10.5, 11.0, "fit 2", 1),
    ]
