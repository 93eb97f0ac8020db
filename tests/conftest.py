import os
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parent


@pytest.fixture
def child_env() -> dict[str, str]:
    """Environment for runner children that can import the test-only workloads."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS), env.get("PYTHONPATH")) if p)
    return env


@pytest.fixture
def python() -> str:
    return sys.executable


@pytest.fixture(autouse=True)
def results_store(tmp_path, monkeypatch) -> Path:
    """Every test, and every process it starts, stores results in its own temporary file."""
    path = tmp_path / "results.sqlite"
    monkeypatch.setenv("CPULAB_DB", str(path))
    return path


@pytest.fixture(autouse=True)
def user_config(tmp_path, monkeypatch) -> Path:
    """A private user config directory, so no real user theme reaches a test or a process it
    starts."""
    config = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    monkeypatch.delenv("NO_COLOR", raising=False)
    return config / "cpulab"
