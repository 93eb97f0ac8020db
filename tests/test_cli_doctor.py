"""`cpulab doctor` on this machine (its structure: what it finds here varies), the
conditions a real run stores, and the warnings a sweep gives before it starts."""

import json
import subprocess
import sys
from pathlib import Path

from cpulab.cli.doctor import WIDTH, doctor_lines
from cpulab.engine.doctor import NOISY, TITLES, WARN, Check
from cpulab.engine.store import ResultStore
from support.cli import cpulab

TREES = Path(__file__).parent / "fixtures" / "doctor"


def test_doctor_prints_every_item_within_80_columns_and_writes_nothing(results_store):
    out = cpulab("doctor")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert all(len(line) <= WIDTH for line in lines), [ln for ln in lines if len(ln) > WIDTH]
    for title in TITLES.values():
        (line,) = [line for line in lines if line[6:].startswith(title + " ")]
        assert line[:4].strip() in ("ok", "WARN", "--"), line
    assert not results_store.exists()  # read-only: not even an empty store


def test_doctor_json_lists_the_checks_and_the_noisy_ones():
    out = cpulab("doctor", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    names = [check["name"] for check in doc["checks"]]
    assert names == list(TITLES)  # every item, in order
    for check in doc["checks"]:
        assert set(check) == {"name", "title", "value", "status", "advice"}
        assert check["status"] in ("ok", "warn", "info")
        assert check["title"] == TITLES[check["name"]] and check["value"]
        assert check["status"] != "warn" or check["advice"]
    warned = {c["name"] for c in doc["checks"] if c["status"] == "warn"}
    assert set(doc["noisy"]) == warned & set(NOISY)


def test_the_table_wraps_long_advice_under_the_value():
    checks = [
        Check("governor", "powersave on CPUs 0-255", WARN, "a long sentence of advice " * 8),
        Check("smt", "off (control off)", "info"),
    ]
    lines = doctor_lines(checks)
    assert lines[0].startswith("WARN  CPU governor   powersave on CPUs 0-255")
    assert all(len(line) <= WIDTH for line in lines)
    advice = [line for line in lines[1:] if line.startswith(" " * 21 + "a ") or "advice" in line]
    assert len(advice) >= 3 and all(line.startswith(" " * 21) for line in advice)  # wrapped
    assert any(line.startswith("--    SMT") for line in lines)
    assert "CPU governor" in lines[-2] + lines[-1]  # the closing line names what varies


def test_a_real_run_stores_the_machine_conditions(results_store):
    out = cpulab("run", "rf-train", "--scale", "small", "--json")
    assert out.returncode == 0, out.stderr
    conditions = json.loads(out.stdout)["conditions"]
    assert {"governor", "turbo", "smt", "isolated", "cpu_quota", "memory_limit"} <= set(conditions)
    for item in conditions.values():
        assert item["status"] in ("ok", "warn", "info") and item["value"]
    with ResultStore.open(results_store, readonly=True) as store:
        (stored,) = store.points()
    assert stored.result.conditions == conditions


def test_a_sweep_warns_of_what_makes_results_noisy_and_goes_on(results_store):
    # This machine as if it had the powersave tree's governor and turbo.
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "import cpulab.engine.doctor as doctor\n"
        "real = doctor.gather\n"
        f"doctor.gather = lambda **kw: real(Path({str(TREES / 'powersave')!r}), **kw)\n"
        "from cpulab.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    argv = ["sweep", "rf-train", "--scale", "small", "--cores", "1", "--repeats", "1",
            "--warmup", "0", "--json"]  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    warnings = [line for line in out.stderr.splitlines() if line.startswith("cpulab: warning:")]
    assert any(
        w.startswith("cpulab: warning: CPU governor: powersave on CPUs 0-3:") for w in warnings
    )
    assert any(w.startswith("cpulab: warning: turbo: on (cpufreq boost):") for w in warnings)
    assert json.loads(out.stdout)["sweep"]["status"] == "done"
