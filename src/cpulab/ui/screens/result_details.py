"""Everything one result holds, in one scrolling view: its measured times and their
statistics, set-up, resources, score, flags, thread pools, options, machine and software,
where it is stored, and its speedup over a baseline when the app gives one.

The words are built by `result_sections`, plain Python, and drawn here as label-value
grids whose values wrap: every figure fits an 80-column terminal.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from itertools import groupby
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from cpulab.engine.doctor import TITLES, WARN
from cpulab.engine.events import PHASE_TITLES, Result
from cpulab.engine.presentation import (
    FLAG_MEANINGS,
    flag_text,
    memory_rows,
    model_scores,
    task_label,
)
from cpulab.engine.stats import MIN_RUNS_FOR_OUTLIERS, PointStats
from cpulab.ui.scaling import Entry, Speedup
from cpulab.ui.screens.reading import ReadingScreen
from cpulab.ui.screens.timeline import TimelineScreen, timeline_rows

Rows = list[tuple[str, str]]
Section = tuple[str, Rows]

LABEL_WIDTH = 15  # the longest label ("first run slow") and a little: values line up
DATA_SHOWN = ("path", "target", "drop", "kind", "delimiter", "header")  # of the user's data
WORKERS_NAMED = 6  # worker ids listed for pools that several workers share
CONDITION_KEYS = ("value", "status", "advice")  # of each machine condition
WARNINGS = ("flag", "warning")  # the labels of rows that make the figures less certain


def result_sections(point: Entry | Result, speedup: Speedup | None = None) -> list[Section]:
    """The result as titled label-value rows, every field of its record among them."""
    entry = point if isinstance(point, Entry) else Entry(point)
    result = entry.result
    sections = [
        ("Run", _run_rows(entry)),
        ("Measured time", _time_rows(result, entry.stats)),
    ]
    if speedup is not None:
        sections.append(("Speedup", _speedup_rows(result, speedup)))
    sections += [
        ("Set-up", _setup_rows(result)),
        ("Resources", _resource_rows(result)),
        *([("Timeline", timeline_rows(result))] if result.timeline is not None else []),
        ("Score", _score_rows(result)),
        ("Flags and warnings", _flag_rows(result, entry.stats)),
        ("Thread pools", _thread_rows(result.threads)),
        ("Options", _option_rows(result.options)),
        ("Machine", _machine_rows(result.machine)),
        *(
            [("Machine conditions", _condition_rows(result.conditions))]
            if result.conditions
            else []
        ),
        ("Software", _software_rows(result)),
    ]
    return sections


def _run_rows(entry: Entry) -> Rows:
    result = entry.result
    return [
        ("task", task_label(result)),
        ("title", result.title),
        ("variant", result.variant or "none: the task as it ships"),
        ("scale", result.scale),
        (
            "split",
            f"{result.train} training x {result.eval} evaluation = {result.cores_used} "
            f"of {result.available} available cores",
        ),
        *_where_rows(entry),
    ]


def _where_rows(entry: Entry) -> Rows:
    """Where and when the result was stored, and whether this app session ran it."""
    stored = "not stored" if entry.point_id is None else f"point {entry.point_id}"
    sweep = "none: a single run" if entry.sweep is None else entry.sweep
    if entry.batch is not None:  # the search's batch, its speedup's sweep
        sweep += f", its batch sweep {entry.batch}"
    rows = [
        ("stored", stored + ("" if entry.this_session else ", read from the history")),
        ("sweep", sweep),
    ]
    if entry.created_at is not None:
        rows.append(("created", _when(entry.created_at)))
    return rows


def _time_rows(result: Result, stats: PointStats) -> Rows:
    runs = ", ".join(
        f"{t:.3f}" + (" (outlier)" if i in stats.outliers else "")
        for i, t in enumerate(stats.times)
    )
    if stats.n < MIN_RUNS_FOR_OUTLIERS:
        outliers = f"not judged below {MIN_RUNS_FOR_OUTLIERS} runs"
    elif stats.outliers:
        outliers = "runs " + ", ".join(str(i + 1) for i in stats.outliers)
    else:
        outliers = "none"
    warmups = ", ".join(f"{t:.3f}" for t in result.warmup_times)
    return [
        ("median", f"{stats.median:.3f} s"),
        ("min", f"{stats.min:.3f} s"),
        ("max", f"{stats.max:.3f} s"),
        ("MAD", f"{stats.mad:.3f} s"),
        ("n", f"{stats.n} measured {'run' if stats.n == 1 else 'runs'}"),
        ("runs", f"{runs} s"),
        ("warm-ups", f"{warmups} s" if warmups else "none"),
        ("outliers", outliers),
        ("first run slow", "yes" if stats.first_run_slow else "no"),
    ]


def _speedup_rows(result: Result, speedup: Speedup) -> Rows:
    """The speedup as the results table shows it, and the baseline it divides."""
    base, stats = speedup.baseline.result, speedup.baseline_stats
    rows = [
        (
            "speedup",
            f"{speedup.value:.2f}x the {base.train} x {base.eval} speed, "
            f"efficiency {speedup.value / result.cores_used:.0%}",
        ),
        ("baseline", f"{base.train} x {base.eval}"),
        *[("  " + label, value) for label, value in _where_rows(speedup.baseline)],
        (
            "  time",
            f"median {stats.median:.3f} s, MAD {stats.mad:.3f} s, "
            f"{stats.min:.3f} to {stats.max:.3f} s, n {stats.n}",
        ),
    ]
    return rows + [("  warning", caveat) for caveat in speedup.caveats]  # the baseline's


def _setup_rows(result: Result) -> Rows:
    rows = [
        (name, f"{seconds:.2f} s, {PHASE_TITLES.get(name, name)}")
        for name, seconds in result.setup.items()
    ]
    if result.worker_times:
        times = ", ".join(f"{t:.2f}" for t in result.worker_times)
        rows.append(("worker starts", f"{times} s"))
    return rows or [("set-up", "not recorded")]


def _resource_rows(result: Result) -> Rows:
    measured = sum(result.fit_times)
    busy = ""
    if measured > 0:
        cores = result.cpu_time / measured
        busy = f", {cores:.1f} cores busy on average"
        if cores > result.available > 0:  # a short call, read to a tick a process
            busy = f", all {result.available} cores busy ({cores:.1f} in 10 ms CPU ticks)"
    rows = [
        ("CPU time", f"{result.cpu_time:.2f} s across the process tree{busy}"),
        ("peak memory", f"{result.peak_rss / 2**20:.0f} MiB across the process tree"),
        *memory_rows(result),
    ]
    load = result.load
    if not load:
        return [*rows, ("load", "not recorded")]
    known = {"other_cores": "other work", "steal_cores": "stolen", "iowait_cores": "I/O wait"}
    rows += [
        (title, f"{load[key]:.2f} cores on average while measured")
        for key, title in known.items()
        if key in load
    ]
    return rows + _other_rows(load, known)


def _score_rows(result: Result) -> Rows:
    rows = [
        ("metric", result.metric),
        ("score", "none" if result.score is None else f"{result.score:.4f}"),
    ]
    per_model = model_scores(result)
    if per_model:
        rows.append(("per model", per_model))
    return rows + _other_rows(result.details, [result.metric] if per_model else [])


def _flag_rows(result: Result, stats: PointStats) -> Rows:
    rows = [
        ("flag", f"{flag}: {FLAG_MEANINGS[flag]}" if flag in FLAG_MEANINGS else flag_text([flag]))
        for flag in result.flags
    ]
    # Without the flags: the noisy flag says its own sentence above.
    rows += [("warning", warning) for warning in stats.warnings()]
    return rows or [("flags", "none")]


def _thread_rows(threads: Mapping[str, Any]) -> Rows:
    if not threads:
        return [("thread pools", "not recorded")]
    rows = [("runner", _pools(threads.get("runner") or []))]
    workers: dict[str, list[str]] = {}  # the pools, and the workers that have them
    for pool in threads.get("workers") or []:
        workers.setdefault(str(pool.get("worker")), []).append(_pools([pool]))
    shared: dict[str, list[str]] = {}
    for worker, lines in workers.items():  # each reports its pools in its own order
        shared.setdefault("\n".join(sorted(lines)), []).append(worker)
    for pools, names in shared.items():
        listed = ", ".join(names[:WORKERS_NAMED])
        if len(names) > WORKERS_NAMED:
            listed += f" and {len(names) - WORKERS_NAMED} more"
        count = f"{len(names)} {'worker' if len(names) == 1 else 'workers'}"
        rows += [("workers", f"{count}: {listed}"), ("", pools)]
    if not workers:
        rows.append(("workers", "none"))
    return rows + _other_rows(threads, ["runner", "workers"])


def _pools(pools: Iterable[Mapping[str, Any]]) -> str:
    """One line per BLAS/OpenMP pool: "openblas 0.3.30 (blas, pthreads): 2 threads"."""
    lines = []
    for pool in pools:
        name = " ".join(str(pool[k]) for k in ("internal_api", "version") if pool.get(k))
        kind = ", ".join(str(pool[k]) for k in ("user_api", "threading_layer") if pool.get(k))
        count = pool.get("num_threads")
        lines.append(
            f"{name or 'unknown'} ({kind}): {count} {'thread' if count == 1 else 'threads'}"
        )
    return "\n".join(lines) or "none"


def _option_rows(options: Mapping[str, Any]) -> Rows:
    data = options.get("data")
    blas = options.get("blas_threads")
    rows = [("data", "the task's own" if data is None else _value(data))]
    if isinstance(data, dict):  # the user's file, and how it is read
        drop = data.get("drop")
        rows = [
            ("data", _value(data.get("path"))),
            ("  target", _value(data.get("target"))),
            ("  drop", ", ".join(drop) if isinstance(drop, list) and drop else "nothing"),
            ("  kind", _value(data.get("kind") or "inferred from the target")),
            ("  delimiter", repr(data.get("delimiter"))),
            ("  header row", _value(data.get("header"))),
            *[("  " + label, value) for label, value in _other_rows(data, DATA_SHOWN)],
        ]
    rows += [
        ("backend", _value(options.get("backend", "loky"))),
        ("cluster", _value(options.get("cluster"))),
        ("BLAS threads", "the libraries' own choice" if blas is None else str(blas)),
    ]
    return rows + _other_rows(options, ["data", "backend", "cluster", "blas_threads"])


# The topology's fields its rows give in words (the counts are in its summary).
TOPOLOGY_SHOWN = ("summary", "cpus", "physical_cores", "packages", "numa_nodes",
                  "threads_per_core", "isolated", "smt_known")  # fmt: skip


def _machine_rows(machine: Mapping[str, Any]) -> Rows:
    if not machine:
        return [("machine", "not recorded")]
    rows = [
        ("hostname", _value(machine.get("hostname"))),
        ("CPU model", _value(machine.get("cpu_model"))),
        ("logical cores", _value(machine.get("logical_cores"))),
        ("physical cores", _value(machine.get("physical_cores"))),
    ]
    shown = ["hostname", "cpu_model", "logical_cores", "physical_cores"]
    cores = machine.get("cores")
    if isinstance(cores, dict):  # the budget: what limits the cores a run may use
        affinity = cores.get("affinity")
        quota, limit = cores.get("quota"), cores.get("env_limit")
        rows += [
            ("available", _value(cores.get("available"))),
            ("affinity", _cpu_list(affinity) if isinstance(affinity, list) else _value(affinity)),
            ("cgroup quota", "none" if quota is None else f"{quota:g} cores"),
            ("env limit", f"LOKY_MAX_CPU_COUNT {'not set' if limit is None else limit}"),
            *_other_rows(cores, ["logical", "available", "affinity", "quota", "env_limit"]),
        ]
        shown.append("cores")
    topology = machine.get("topology")
    if isinstance(topology, dict):
        nodes = topology.get("numa_nodes")
        rows += [
            ("topology", _value(topology.get("summary"))),
            (
                "NUMA nodes",
                "; ".join(f"node {node}: CPUs {cpus}" for node, cpus in nodes.items())
                if isinstance(nodes, dict)
                else _value(nodes),
            ),
            ("isolated CPUs", _value(topology.get("isolated") or "none")),
            *_other_rows(topology, TOPOLOGY_SHOWN),
        ]
        shown.append("topology")
    return rows + _other_rows(machine, shown)


def _condition_rows(conditions: Mapping[str, Any]) -> Rows:
    """What `cpulab doctor` found as the runner started: each item's value, and the
    advice of those that make measurements less stable."""
    rows: Rows = []
    for name, item in conditions.items():
        if not isinstance(item, dict):  # a newer form: shown as it is
            rows.append((name.replace("_", " "), _value(item)))
            continue
        rows.append((TITLES.get(name, name.replace("_", " ")), _value(item.get("value"))))
        if item.get("status") == WARN:
            rows.append(("  warning", _value(item.get("advice") or "makes results vary")))
        rows += [("  " + label, value) for label, value in _other_rows(item, CONDITION_KEYS)]
    return rows


def _software_rows(result: Result) -> Rows:
    software = result.software
    if not software:
        return [("software", "not recorded")]
    libraries = software.get("libraries") or {}
    rows = [
        ("python", _value(software.get("python"))),
        ("platform", _value(software.get("platform"))),
        (
            "libraries",
            ", ".join(f"{name} {version or 'missing'}" for name, version in libraries.items()),
        ),
    ]
    shown = ["python", "platform", "libraries"]
    # The runner's pools are in the thread pools above; an older result has them only here.
    if software.get("threadpools") == result.threads.get("runner"):
        shown.append("threadpools")
    elif "threadpools" in software:
        rows.append(("thread pools", _pools(software["threadpools"] or [])))
        shown.append("threadpools")
    return rows + _other_rows(software, shown)


def _other_rows(record: Mapping[str, Any], shown: Iterable[str]) -> Rows:
    """The entries not shown in their own words: a task's details, newer fields."""
    skip = set(shown)
    return [
        (key.replace("_", " "), _value(value)) for key, value in record.items() if key not in skip
    ]


def _value(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)


def _cpu_list(ids: list[int]) -> str:
    """CPU ids as ranges, the way /sys writes them: "0-3, 8-11"."""
    spans: list[list[int]] = []
    for cpu in sorted(ids):
        if spans and cpu == spans[-1][1] + 1:
            spans[-1][1] = cpu
        else:
            spans.append([cpu, cpu])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans) or "none"


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def section_grid(rows: Rows) -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=LABEL_WIDTH, no_wrap=True, overflow="ellipsis", style="bold")
    grid.add_column(overflow="fold")  # a long path with no spaces wraps too
    for label, value in rows:
        grid.add_row(Text(label), Text(value))  # not markup: a variant is in brackets
    return grid


class ResultDetails(ReadingScreen):
    """Every field of one result; Escape or q closes it.

    `point` is the app's entry of a result (which says where and when it was stored), or
    a bare result; `speedup`, where it has one, is the speedup the results table shows.
    """

    BINDINGS = [Binding("l", "timeline", "Timeline", show=False)]
    DEFAULT_CSS = """
    ResultDetails {
        & .heading { text-style: bold; color: $text-accent; margin-top: 1; }
        & .heading.-first { margin-top: 0; }
        & .-warning { color: $text-warning; }
    }
    """

    def __init__(self, point: Entry | Result, speedup: Speedup | None = None) -> None:
        super().__init__()
        self.point, self.speedup = point, speedup
        self.result = point.result if isinstance(point, Entry) else point

    def compose(self) -> ComposeResult:
        result = self.result
        with VerticalScroll() as box:
            box.border_title = f"{task_label(result)} {result.train} x {result.eval}"
            timeline = "" if result.timeline is None else " · l timeline"
            box.border_subtitle = f"↑↓ scroll{timeline} · Esc close"
            for index, (title, rows) in enumerate(result_sections(self.point, self.speedup)):
                yield Static(title, classes="heading -first" if index == 0 else "heading")
                # Flags and warnings stand out: each run of them is a grid of its own.
                for warned, run in groupby(rows, key=lambda row: row[0].strip() in WARNINGS):
                    yield Static(section_grid(list(run)), classes="-warning" if warned else "")

    def action_timeline(self) -> None:
        stored = self.point.point_id if isinstance(self.point, Entry) else None
        self.app.push_screen(TimelineScreen(self.result, stored))
