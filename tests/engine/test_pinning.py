"""Pinning plans for each strategy on the fake sysfs trees, and --pin in the run options."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cpulab.engine.errors import UsageError
from cpulab.engine.pinning import PIN_STRATEGIES, plan_pinning
from cpulab.engine.presentation import smt_line
from cpulab.engine.spec import RunOptions
from cpulab.engine.stats import PointStats, analyse_scaling
from cpulab.engine.topology import read_topology

TREES = Path(__file__).resolve().parents[1] / "fixtures" / "sysfs"
TWO_SOCKET = read_topology(TREES / "two-socket")
EPYC = read_topology(TREES / "epyc-256")
VM = read_topology(TREES / "vm")
ROOT = Path(__file__).resolve().parents[2]


def cpus(strategy, topology, cores, allowed=None):
    plan = plan_pinning(strategy, topology, allowed or topology.cpus, cores)
    assert plan is not None
    return plan.cpus


def span(*ranges: range) -> tuple[int, ...]:
    return tuple(cpu for r in ranges for cpu in r)


@pytest.mark.parametrize("topology", [TWO_SOCKET, EPYC, VM], ids=["two-socket", "epyc", "vm"])
@pytest.mark.parametrize("strategy", PIN_STRATEGIES[1:])
def test_every_plan_has_as_many_allowed_cpus_as_cores_up_to_all(topology, strategy):
    total = len(topology.cpus)
    for cores in sorted({1, 2, total // 2, topology.physical_cores, total, total + 3}):
        plan = plan_pinning(strategy, topology, topology.cpus, cores)
        assert plan is not None and plan.strategy == strategy
        assert len(plan.cpus) == min(cores, total) == len(set(plan.cpus))
        assert set(plan.cpus) <= set(topology.cpus)
        if cores > total:
            assert "oversubscribed" in plan.note
        if strategy != "siblings" and cores <= topology.physical_cores:  # distinct cores
            core_of = {cpu: group for group in topology.siblings for cpu in group}
            assert len({core_of[cpu] for cpu in plan.cpus}) == cores


def test_physical_takes_distinct_cores_compactly_then_siblings():
    assert cpus("physical", TWO_SOCKET, 1) == (0,)
    assert cpus("physical", TWO_SOCKET, 2) == (0, 1)
    assert cpus("physical", TWO_SOCKET, 16) == span(range(16))  # package 0 first
    assert cpus("physical", TWO_SOCKET, 32) == span(range(32))
    plan = plan_pinning("physical", TWO_SOCKET, TWO_SOCKET.cpus, 40)
    assert plan is not None and plan.cpus == span(range(40))  # package 0's siblings next
    assert plan.note == "40 cores asked, 32 physical cores allowed: 8 on SMT siblings"
    assert cpus("physical", EPYC, 64) == span(range(64))
    assert cpus("physical", VM, 2) == (0, 1)


def test_siblings_packs_both_threads_of_each_core():
    assert cpus("siblings", TWO_SOCKET, 1) == (0,)
    assert cpus("siblings", TWO_SOCKET, 2) == (0, 32)
    assert cpus("siblings", TWO_SOCKET, 3) == (0, 1, 32)
    assert cpus("siblings", TWO_SOCKET, 32) == span(range(16), range(32, 48))
    assert cpus("siblings", EPYC, 4) == (0, 1, 128, 129)
    assert cpus("siblings", TWO_SOCKET, 64) == TWO_SOCKET.cpus


def test_numa_spreads_over_nodes_round_robin():
    assert cpus("numa", TWO_SOCKET, 1) == (0,)
    assert cpus("numa", TWO_SOCKET, 2) == (0, 16)
    assert cpus("numa", TWO_SOCKET, 4) == (0, 1, 16, 17)
    assert cpus("numa", TWO_SOCKET, 32) == span(range(32))
    assert cpus("numa", EPYC, 4) == (0, 32, 64, 96)
    assert cpus("numa", EPYC, 8) == (0, 1, 32, 33, 64, 65, 96, 97)
    assert cpus("numa", EPYC, 130) == span(range(129), range(160, 161))  # siblings last


def test_plans_keep_to_the_allowed_cpus():
    allowed = span(range(8), range(32, 40))  # 8 cores of package 0, both threads
    assert cpus("physical", TWO_SOCKET, 8, allowed) == span(range(8))
    assert cpus("siblings", TWO_SOCKET, 4, allowed) == (0, 1, 32, 33)
    plan = plan_pinning("numa", TWO_SOCKET, allowed, 2)
    assert plan is not None and plan.cpus == (0, 1)
    assert plan.note == "one NUMA node: placed as physical"


def test_fallbacks_say_why():
    plan = plan_pinning("siblings", VM, VM.cpus, 2)
    assert plan is not None and plan.cpus == (0, 1)
    assert plan.note == "no SMT siblings: one thread per core, as physical"
    plan = plan_pinning("physical", VM, VM.cpus, 3)
    assert plan is not None and plan.cpus == (0, 1)
    assert plan.note == "3 cores asked, 2 CPUs allowed: all of them, oversubscribed"
    assert plan.to_dict() == {"strategy": "physical", "cpus": "0-1", "note": plan.note}


def test_none_pins_nothing_and_a_bad_name_is_refused():
    assert plan_pinning("none", TWO_SOCKET, TWO_SOCKET.cpus, 4) is None
    with pytest.raises(UsageError, match="unknown pinning 'compact': choose none, physical"):
        plan_pinning("compact", TWO_SOCKET, TWO_SOCKET.cpus, 4)


def test_the_pin_is_part_of_the_variant_and_round_trips():
    options = RunOptions(pin="physical")
    assert options.variant == "pinned physical" and RunOptions().variant == ""
    assert options.to_dict()["pin"] == "physical"
    assert RunOptions.from_dict(options.to_dict()) == options
    old = RunOptions().to_dict()
    del old["pin"]  # a record from before --pin
    assert RunOptions.from_dict(old).pin == "none"


def test_run_options_refuse_a_bad_pin_and_a_pinned_cluster():
    with pytest.raises(UsageError, match="unknown pinning 'all'"):
        RunOptions(pin="all").check()
    with pytest.raises(UsageError, match="does not apply to a Dask cluster"):
        RunOptions(backend="dask", cluster="tcp://127.0.0.1:8786", pin="numa").check()


def test_pinning_reaches_running_processes_and_their_threads(tmp_path):
    """loky keeps its workers between points: they and their threads are pinned anew."""
    script = textwrap.dedent(
        """
        import json, os, subprocess, sys, time
        from cpulab.engine.pinning import pin_tree
        child = subprocess.Popen([sys.executable, "-c",
            "import threading, time; threading.Thread(target=time.sleep, args=(30,),"
            " daemon=True).start(); print(1, flush=True); time.sleep(30)"],
            stdout=subprocess.PIPE)
        child.stdout.readline()  # its thread has started
        pin_tree((0,))
        tids = os.listdir(f"/proc/{child.pid}/task")
        found = [sorted(os.sched_getaffinity(int(t))) for t in tids]
        child.kill()
        print(json.dumps({"threads": found, "own": sorted(os.sched_getaffinity(0))}))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["own"] == [0] and len(doc["threads"]) == 2
    assert all(threads == [0] for threads in doc["threads"])


def report_of(times: dict[int, float]):
    return analyse_scaling((1, cores, PointStats.of([t, t])) for cores, t in times.items())


def test_the_sweep_report_says_whether_smt_pays():
    paid = smt_line(report_of({1: 8.0, 2: 4.0, 4: 2.4}), physical_cores=2)
    assert paid == "SMT pays: past the 2 physical cores, 2 to 4 cores (4 s to 2.4 s), 1.67x faster"
    flat = smt_line(report_of({1: 8.0, 16: 1.0, 32: 0.98}), physical_cores=16)
    assert flat is not None and flat.startswith("SMT does not pay") and flat.endswith("no faster")
    worse = smt_line(report_of({1: 8.0, 16: 1.0, 32: 1.25}), physical_cores=16)
    assert worse is not None and worse.endswith("1.25x slower")
    assert smt_line(report_of({1: 8.0, 2: 4.0}), physical_cores=2) is None  # never past them
    assert smt_line(report_of({1: 8.0, 4: 4.0}), physical_cores=None) is None
