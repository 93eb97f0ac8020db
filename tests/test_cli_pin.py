"""`--pin` on real runs: every process of the runner's tree runs on the planned CPUs."""

import json
import os
import subprocess
import sys
from pathlib import Path

from cpulab.engine.pinning import plan_pinning
from cpulab.engine.topology import machine_topology, parse_cpulist

ROOT = Path(__file__).resolve().parents[1]
TASK_FILE = str(ROOT / "tests" / "plugins" / "affinity_workers.py")


def cpulab(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cpulab", *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def pinned_run(eval_cores: int) -> tuple[dict, tuple[int, ...]]:
    out = cpulab("--task-file", TASK_FILE, "run", "affinity", "--eval", str(eval_cores),
                 "--pin", "physical", "--repeats", "1", "--json")  # fmt: skip
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    plan = plan_pinning("physical", machine_topology(), sorted(os.sched_getaffinity(0)), eval_cores)
    assert plan is not None
    return doc, plan.cpus


def test_a_physical_pin_holds_on_the_runner_and_every_worker():
    doc, planned = pinned_run(2)
    details = doc["details"]
    assert tuple(parse_cpulist(details["pinning"]["cpus"])) == planned
    assert doc["variant"] == "pinned physical" and doc["options"]["pin"] == "physical"
    tree = details["tree"]
    assert str(details["runner"]) in tree
    assert {str(pid) for pid in details["workers"]} <= set(tree)  # the workers were seen
    for facts in tree.values():
        assert tuple(facts["affinity"]) == planned
        assert all(tuple(threads) == planned for threads in facts["threads"])


def test_a_plan_of_one_cpu_holds_the_runner_to_it():
    doc, planned = pinned_run(1)
    assert len(planned) == 1
    runner = doc["details"]["tree"][str(doc["details"]["runner"])]
    assert runner["affinity"] == list(planned)
    assert all(threads == list(planned) for threads in runner["threads"])
    # The machine record says what the machine allows, not what the point was pinned to.
    assert doc["machine"]["cores"]["affinity"] == sorted(os.sched_getaffinity(0))


def test_a_bad_pin_name_is_one_line_and_exit_2():
    out = cpulab("run", "cv-eval", "--pin", "compact")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "--pin: invalid choice: 'compact'" in out.stderr


def test_a_pin_on_a_dask_cluster_is_refused():
    out = cpulab("run", "cv-eval", "--dask", "local:2", "--pin", "numa")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip() == (
        "cpulab: error: --pin numa places work on this machine's CPUs: it does not apply "
        "to a Dask cluster"
    )


def test_a_sweep_pins_the_workers_it_keeps_anew_for_each_point():
    """Points take turns (1, 2, 1, 2): the 1-core point's second run finds the workers loky
    kept from the 2-core point, and they must be on its one CPU too."""
    out = cpulab("--task-file", TASK_FILE, "sweep", "affinity", "--cores", "1,2",
                 "--pin", "physical", "--repeats", "2", "--warmup", "0", "--json")  # fmt: skip
    assert out.returncode == 0, out.stderr
    points = {p["eval"]: p for p in json.loads(out.stdout)["points"]}
    allowed = sorted(os.sched_getaffinity(0))
    for cores, point in points.items():
        plan = plan_pinning("physical", machine_topology(), allowed, cores)
        assert plan is not None
        assert point["details"]["pinning"]["cpus"] == plan.to_dict()["cpus"]
        for facts in point["details"]["tree"].values():
            assert tuple(facts["affinity"]) == plan.cpus
            assert all(tuple(threads) == plan.cpus for threads in facts["threads"])
    # The one-core point's last run saw the two-core point's workers, and they were pinned.
    one_core = points[1]["details"]
    assert set(one_core["tree"]) > {str(one_core["runner"])}
