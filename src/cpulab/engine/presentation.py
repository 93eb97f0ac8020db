"""How results read as text, the same wherever they are shown: the CLI's tables, the
app's widgets and the exports. Plain strings: no rich, no Textual.
"""

from __future__ import annotations

import csv
import functools
import io
import math
from collections.abc import Iterable, Iterator
from typing import Any

from cpulab.engine.events import PARTIAL, Result
from cpulab.engine.memory import MemoryLimit, MemoryModel, size_text
from cpulab.engine.models import USL, ScalingModel
from cpulab.engine.stats import ScalingReport

# Flags as a person reads them; a flag not named here reads as itself.
FLAG_TITLES = {"noisy": "noisy machine", PARTIAL: "partial: cut short"}
# What each flag means for the numbers, where a result is shown in full.
FLAG_MEANINGS = {
    "oversubscribed": "more workers and threads than available cores: they take turns, "
    "so the times include waiting",
    "noisy": "other processes used the CPU during this point",
    PARTIAL: "cut short before its last measured run: fewer runs than asked, and no score",
}


def counted(number: int, noun: str) -> str:
    """ "1 repeat", "3 repeats": a count and its noun, plural where it is not one."""
    return f"{number} {noun}{'s' * (number != 1)}"


def flag_text(flags: list[str]) -> str:
    return ", ".join(FLAG_TITLES.get(flag, flag) for flag in flags)


def best_splits_line(report: ScalingReport) -> str | None:
    """The fastest point, and the fastest split of each core count; None with no point."""
    if report.best is None:
        return None
    splits = "; ".join(
        f"{p.cores} {'core' if p.cores == 1 else 'cores'}: {p.train} x {p.eval}"
        for p in report.best_per_cores.values()
    )
    return f"{best_summary(report)} (best split per core count: {splits})"


def model_lines(
    model: ScalingModel | dict[str, Any] | None,
    machine_cores: int,
    memory_cap: int | None = None,
    *,
    baseline: float | None,
) -> list[str]:
    """A sweep's scaling model in sentences: which model and why, its parameters with their
    intervals, predictions at the core counts not measured (up to twice the machine's), the
    knee and the model's own warnings. None: fewer than two core counts, nothing to say.

    The model, or its `to_dict(machine_cores)` as a sweep stores it. `memory_cap`: the most
    cores whose workers fit in the memory a run may use; the knee recommends no more.
    `baseline`: the median of the measured 1 x 1 runs, which each predicted speed-up is
    over, as the table's are (without one, over the model's fitted 1-core time)."""
    if model is None:
        return []
    most = machine_cores if memory_cap is None else max(1, min(machine_cores, memory_cap))
    if isinstance(model, ScalingModel):
        model = {**model.to_dict(machine_cores), "knee": model.knee(most).to_dict()}
    usl = model["chosen"] == USL and model["usl"] is not None
    best, known = model["usl"] if usl else model["amdahl"], model["intervals_known"]
    params = f"serial fraction s = {_estimate(best['s'], '.3f', known)}"
    if usl:
        params += f", crosstalk k = {_estimate(best['k'], '.2g', known)}"
        if model["peak"] is not None:
            params += f", peak speedup at p* = {_estimate(model['peak'], '.0f', known)} cores"
    lines = [f"model: {model['reason']}; {params}"]
    predicted = [p for p in model["predictions"] or () if not p["measured"]]
    if predicted:
        said = (_prediction(p, known, baseline) for p in predicted)
        lines.append("predicted: " + "; ".join(said))
    knee_line = f"knee: {model['knee']['sentence']}"
    if most < machine_cores:
        knee_line += f" (the memory a run may use fits {most} workers at most)"
    lines.append(knee_line)
    return lines + [f"warning: {w}" for w in model["warnings"]]


def sweep_lines(
    report: ScalingReport,
    model: ScalingModel | None,
    memory: MemoryModel | None,
    limit: MemoryLimit,
    strategy: str,
    ran_on: Result,
) -> list[str]:
    """What a sweep's report says after its fit and best splits, `cpulab sweep` and the
    app's summary alike: the scaling model, what the task's runs need in memory (from the
    store's `memory` model of them), and whether SMT pays. `ran_on`: any of the sweep's
    results, for the machine it ran on."""
    # Workers are the cores only where the sweep gives them all to evaluation.
    cap = memory.max_workers(limit.bytes) if memory and strategy == "eval" else None
    baseline = report.baseline.median if report.baseline else None
    lines = model_lines(model, ran_on.available, cap, baseline=baseline)
    if said := memory_line(memory, limit, ran_on.available):
        lines.append(said)
    physical = ran_on.machine.get("topology", {}).get("physical_cores")
    if smt := smt_line(report, physical):
        lines.append(smt)
    return lines


def memory_line(model: MemoryModel | None, limit: MemoryLimit, workers: int) -> str | None:
    """What a task's runs need in memory, from its stored results, against what a run may
    use: "memory: 1.2 GiB + 310 MiB per worker; 8 workers ≈ 3.7 GiB of 23.4 GiB". None
    with nothing stored to tell."""
    if model is None:
        return None
    of = size_text(limit.bytes)
    if model.per_worker <= 0:
        return f"memory: {size_text(model.base)} of {of}, with no worker processes"
    line = (
        f"memory: {size_text(model.base)} + {size_text(model.per_worker)} per worker; "
        f"{workers} workers ≈ {size_text(model.predict(workers))} of {of}"
    )
    most = model.max_workers(limit.bytes)
    if most is not None and most < workers:
        line += f"; {most} workers at most fit"
    return line


def memory_rows(result: Result) -> list[tuple[str, str]]:
    """A result's peak memory, as a details view lists it: the runner's and each worker's
    unique memory (USS), and the tree's summed proportional memory (PSS)."""
    memory = result.memory
    if not memory:
        return []
    rows = [("runner memory", f"{size_text(memory.get('runner_uss', 0))} peak USS")]
    workers = memory.get("worker_uss") or []
    if workers:
        mean = sum(workers) / len(workers)
        rows.append(
            (
                "worker memory",
                f"{size_text(mean)} peak USS per worker, mean of {len(workers)} "
                f"(largest {size_text(max(workers))})",
            )
        )
    total = f"{size_text(memory.get('total_pss', 0))} peak PSS across the process tree"
    if memory.get("limit"):
        total += f", of {size_text(memory['limit'])} a run may use"
    rows.append(("total memory", total))
    return rows


def _estimate(estimate: dict[str, float | None], spec: str, interval: bool = True) -> str:
    """The value, and its interval in brackets where the runs can give one (an estimate as
    `Estimate.to_dict` writes it: an unbounded end is None)."""

    def number(value: float | None) -> str:
        return "inf" if value is None or math.isinf(value) else format(value, spec)

    if not interval:
        return number(estimate["value"])
    return f"{number(estimate['value'])} [{number(estimate['low'])}, {number(estimate['high'])}]"


def _prediction(p: dict[str, Any], interval: bool, baseline: float | None) -> str:
    where = " (beyond this machine)" if p["beyond_machine"] else ""
    time = _estimate(p["time"], ".3g", interval)
    if baseline is None:
        return (
            f"{p['cores']} cores {time} s, {p['speedup']['value']:.2f}x the model's 1 core{where}"
        )
    # Over the measured 1 x 1, as every speed-up beside it: the model's own is over its fitted
    # T1, which reads 1.00x at a time slower than the 1 x 1 where more cores do not help.
    return f"{p['cores']} cores {time} s, {baseline / p['time']['value']:.2f}x{where}"


def points_done(done: int, partial: int, planned: int) -> str:
    """How far a sweep that stopped early got: "3 of 6 points done, 1 partial"."""
    return f"{done} of {planned} points done" + (f", {partial} partial" if partial else "")


def task_label(result: Result) -> str:
    """The task, and its variant where it has one: "compare-regressors [houses.csv:price]"."""
    return variant_label(result.task, result.variant)


def variant_label(name: str, variant: str) -> str:
    """A task's name (or title) and the variant it ran as, where it has one: wherever a run
    or a sweep is named, so that results on other data, backends or threads never read as
    the task's own. A sweep's points share their variant."""
    return f"{name} [{variant}]" if variant else name


def model_scores(result: Result) -> str | None:
    """Each model's score where a task compares models, best first: "ridge 10.1, ...".
    The score is the best model's; the others are the comparison people run it for."""
    scores = result.details.get(result.metric)
    if not isinstance(scores, dict) or not scores:
        return None
    ordered = sorted(scores.items(), key=lambda item: item[1], reverse=result.metric != "rmse")
    return ", ".join(f"{name} {value:.4g}" for name, value in ordered)


def scaling_rows(report: ScalingReport) -> list[list[str]]:
    """One row of text cells per point, the best split for its core count marked with *:
    shared by the Markdown export and the CLI table."""
    best = {id(p) for p in report.best_per_cores.values()}
    rows = []
    for p in report.points:
        s = p.stats
        mark = " *" if id(p) in best and len(report.points) > 1 else ""
        rows.append(
            [
                str(p.cores),
                f"{p.train} x {p.eval}{mark}",
                f"{s.median:.3f}",
                f"{s.mad:.3f}",
                str(s.n),
                "-" if p.speedup is None else f"{p.speedup:.2f}",
                "-" if p.efficiency is None else f"{p.efficiency:.0%}",
                "-" if p.karp_flatt is None else f"{p.karp_flatt:.3f}",
            ]
        )
    return rows


SCALING_HEADER = (
    "cores", "split", "median s", "MAD s", "n", "speedup", "efficiency", "Karp-Flatt",
)  # fmt: skip


def point_notes(report: ScalingReport) -> list[str]:
    """What makes a point's numbers less trustworthy, one line per point that has any."""
    notes = []
    for p in report.points:
        said = p.warnings() + (["oversubscribed"] if "oversubscribed" in p.flags else [])
        if PARTIAL in p.flags:
            runs = "run" if p.stats.n == 1 else "runs"
            said.append(f"partial: cut short after {p.stats.n} measured {runs}, no score")
        if said:
            notes.append(f"{p.train} x {p.eval}: {'; '.join(said)}")
    return notes


def fit_summary(report: ScalingReport) -> str:
    fit = report.fit
    if fit is None:
        return "no fit: fewer than two core counts"
    # Named as the medians' fit: the model (model_lines) fits every run and gives its own
    # serial fraction, with an interval; at few runs the two can differ.
    curve = (
        f"fit to the medians: T(p) = {fit.a:.3f} {'-' if fit.b < 0 else '+'} {abs(fit.b):.3f}/p s"
    )
    if fit.b < 0:  # a "serial fraction" of 1 and a ceiling under 1x would say the same, worse
        return f"{curve}: times grow with more cores, no serial fraction or ceiling to give"
    serial = "-" if fit.serial_fraction is None else f"{fit.serial_fraction:.3f}"
    ceiling = fit.speedup_ceiling
    ceiling_text = "unbounded" if ceiling == float("inf") else f"{ceiling:.1f}x"
    return f"{curve}, serial fraction {serial}, speedup ceiling {ceiling_text}"


def best_summary(report: ScalingReport) -> str:
    if report.best is None:
        return ""
    b = report.best
    return f"best: {b.train} x {b.eval} at {b.stats.median:.3f} s"


# The version of `sweep_markdown`'s text. The store keeps each ended sweep's text with the
# version that made it, and an export uses only today's: bump this when that text changes.
REPORT_VERSION = 4


def markdown_table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> Iterator[str]:
    """A Markdown table's lines."""
    header = list(header)
    yield _markdown_row(header)
    yield "|" + " --- |" * len(header)
    yield from map(_markdown_row, rows)


def _markdown_row(cells: Iterable[str]) -> str:
    return "| " + " | ".join(map(_markdown_cell, cells)) + " |"


def _markdown_cell(text: str) -> str:
    """A cell that stays one: a bar escaped, a line break or other control character (a
    data file's name in a variant) written as its escape."""
    if text.isprintable() and "|" not in text:
        return text
    return printable(text).replace("|", "\\|")


def csv_number(value: float | None, spec: str = ".6g") -> str:
    """A figure as a CSV cell: empty where there is none or it is not finite."""
    return "" if value is None or not math.isfinite(value) else format(value, spec)


@functools.lru_cache(maxsize=4096)
def csv_cell(text: str) -> str:
    """`text` as a CSV cell, quoted as csv.writer quotes it; worked out once for each of
    the few texts a store repeats (tasks, labels, flags, variants)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([text, ""])  # not alone: "" would be quoted
    return out.getvalue()[: -len(",\n")]


def printable(text: str) -> str:
    """Text from the store (a data file's name in a variant) with any control character
    written as its escape: it must not move the cursor, clear the screen or break a row."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def sweep_markdown(
    report: ScalingReport, model: dict[str, Any] | None, machine_cores: int
) -> list[str]:
    """A sweep's section of the Markdown report below its heading: its scaling table, the
    fit and the fastest point, what makes its numbers less trustworthy, and its model
    (`model_lines` of the model it stored, on its first point's machine)."""
    lines = [
        *markdown_table(SCALING_HEADER, scaling_rows(report)),
        "",
        f"{fit_summary(report)}; {best_summary(report)}.",
        *(f"- {note}" for note in point_notes(report) + report.warnings()),
    ]
    baseline = report.baseline.median if report.baseline else None
    said = model_lines(model, machine_cores, baseline=baseline)
    if said:
        lines += ["", *(f"- {line}" for line in said)]
    return lines


SMT_MARGIN = 0.05  # a change in time within this fraction is no change: run-to-run noise


def smt_line(report: ScalingReport, physical_cores: int | None) -> str | None:
    """Whether SMT pays, where a sweep's core counts pass the machine's physical cores:
    the fastest split of the last count within them against that of the next count
    beyond. None where the counts do not pass them, or the physical count is unknown."""
    if not physical_cores:
        return None
    counts = sorted(report.best_per_cores)
    within = [cores for cores in counts if cores <= physical_cores]
    beyond = [cores for cores in counts if cores > physical_cores]
    if not within or not beyond:
        return None
    low, high = report.best_per_cores[within[-1]], report.best_per_cores[beyond[0]]
    ratio = low.stats.median / high.stats.median if high.stats.median > 0 else math.nan
    where = (
        f"past the {counted(physical_cores, 'physical core')}, {low.cores} to {high.cores} cores "
        f"({low.stats.median:.3g} s to {high.stats.median:.3g} s)"
    )
    if not math.isfinite(ratio):
        return None
    if ratio >= 1 + SMT_MARGIN:
        return f"SMT pays: {where}, {ratio:.2f}x faster"
    if ratio <= 1 - SMT_MARGIN:
        return f"SMT does not pay: {where}, {1 / ratio:.2f}x slower"
    return f"SMT does not pay: {where}, no faster"
