"""The module boundaries the design depends on, checked in fresh interpreters."""

import subprocess
import sys

import pytest


def modules_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize(
    "module",
    [
        "cpulab.engine.cores",
        "cpulab.engine.events",
        "cpulab.engine.tasks",
        "cpulab.engine.spec",
        "cpulab.engine.supervisor",
        "cpulab.engine.machine",
        "cpulab.engine.runner",
        "cpulab.engine.stats",
        "cpulab.engine.store",
        "cpulab.engine.sweep",
        "cpulab.engine.session",
        "cpulab.engine.backends",
        "cpulab.engine.export",
        "cpulab.engine.presentation",
        "cpulab.cli",
    ],
)
def test_engine_never_imports_textual_nor_scikit_learn(module):
    loaded = modules_after(f"import {module}")
    assert "textual" not in loaded
    assert "sklearn" not in loaded
    assert "numpy" not in loaded


def test_the_ui_process_loads_no_scikit_learn_numpy_or_joblib():
    # Everything the app imports, followed through the engine (the import contracts in
    # pyproject.toml check the UI's own imports; this checks what they bring in).
    loaded = modules_after("import cpulab.ui.app")
    assert "textual" in loaded
    for heavy in ("sklearn", "numpy", "joblib", "scipy", "threadpoolctl", "distributed"):
        assert heavy not in loaded, heavy


def test_listing_tasks_does_not_import_scikit_learn():
    loaded = modules_after("from cpulab.cli import main\nmain(['tasks'])")
    assert "sklearn" not in loaded and "joblib" not in loaded
