import os
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parent


@pytest.fixture
def child_env() -> dict[str, str]:
    """Environment for runner children that can import the test-only workloads."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(TESTS / "engine"), env.get("PYTHONPATH")) if p
    )
    return env


@pytest.fixture
def python() -> str:
    return sys.executable
