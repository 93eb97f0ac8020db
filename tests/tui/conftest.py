import pytest


@pytest.fixture(autouse=True)
def user_config(tmp_path, monkeypatch):
    """A private user config directory, so no real user theme reaches a test."""
    config = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    monkeypatch.delenv("NO_COLOR", raising=False)
    return config / "cpulab"
