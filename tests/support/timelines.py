"""Synthetic timelines of runs, for the views' tests and snapshots: fixed numbers, no clock."""

from __future__ import annotations

from cpulab.engine.timeline import CoreSamples, PhaseSpan, TaskSpan, Timeline

T0 = 1_765_000_000.0  # a time.time(): every span is in seconds since the epoch
HZ = 4.0


def folds(tasks: int, workers: int, length: float, start: float) -> list[TaskSpan]:
    """Equal tasks handed in order to whichever worker is free first, as joblib does."""
    free = [start] * workers
    out = []
    for k in range(tasks):
        w = min(range(workers), key=lambda i: (free[i], i))
        out.append(TaskSpan(f"pid {4200 + w}", free[w], free[w] + length, f"fold {k}"))
        free[w] += length
    return out


def cv_timeline(cores: int = 2, workers: int = 2, tasks: int = 30, fold: float = 0.1) -> Timeline:
    """A cross-validation run: imports, data, workers starting, one warm-up and two measured
    repeats of `tasks` folds on `workers` processes, then scoring. Each core is busy while
    a worker that it stands for runs a fold, the first a little besides."""
    call = -(-tasks // workers) * fold  # the waves of one repeat
    spans, at = [], T0
    for name, seconds, repeat in (
        ("imports", 0.8, None),
        ("data", 0.2, None),
        ("workers", 0.6, None),
        ("warmup", call, 1),
        ("fit", call, 1),
        ("fit", call, 2),
        ("score", 0.3, None),
    ):
        spans.append(PhaseSpan(name, at, at + seconds, repeat=repeat))
        at += seconds
    end = at
    measured = [(p.start, p.end) for p in spans if p.name == "fit"]
    repeats = [p.start for p in spans if p.name in ("warmup", "fit")]
    tasks_run = [task for a in repeats for task in folds(tasks, workers, fold, a)]
    interval = 1 / HZ
    samples = round((end - T0) / interval)
    rows, own = [], []
    for i in range(samples):
        middle = T0 + (i + 0.5) * interval
        busy = [
            sum(
                1
                for t in tasks_run
                if t.start <= middle < t.end and (int(t.worker[4:]) - 4200) % cores == c
            )
            for c in range(cores)
        ]
        row = [min(100.0, 95.0 * b + (40.0 if c == 0 and middle < spans[2].end else 3.0))
               for c, b in enumerate(busy)]  # fmt: skip
        rows.append(row)
        own.append(sum(row) / 100 * 0.95)
    samples_of = CoreSamples.from_percent(T0, interval, range(cores), rows, own)
    return Timeline.build(samples_of, spans, tasks_run, measured)
