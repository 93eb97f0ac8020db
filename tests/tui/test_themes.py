"""Theme files: shipped ones found in the checkout and in the wheel, user ones added,
broken ones reported instead of crashing, and the command-line checks."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from cpulab.engine.errors import UsageError
from cpulab.ui.themes import ThemeCatalog, ThemeError, load_theme_file, shipped_themes_dir
from support.themes import BROKEN_THEMES

ROOT = Path(__file__).resolve().parents[2]
GOOD = 'name = "mine"\nprimary = "#336699"\ndark = false\n[variables]\nlink-style = "bold"\n'


def test_the_shipped_themes_load_wherever_cpulab_is_installed():
    # An editable install reads the checkout's themes/, a wheel its packaged copy.
    assert (shipped_themes_dir() / "cpulab-dark.toml").is_file()
    catalog = ThemeCatalog.load()
    assert {"cpulab-dark", "cpulab-light"} <= set(catalog.themes)
    assert catalog.problems == {}
    assert not catalog.themes["cpulab-light"].dark


def test_the_wheel_packages_the_themes_where_the_loader_finds_them(tmp_path):
    build = ["wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(ROOT)]
    subprocess.run([sys.executable, "-m", "pip", *build], check=True)
    (wheel,) = tmp_path.glob("cpulab-*.whl")
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    probe = (
        "from cpulab.ui.themes import ThemeCatalog, shipped_themes_dir\n"
        "print(shipped_themes_dir())\nprint(sorted(ThemeCatalog.load().themes))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        env={"PYTHONPATH": str(site), "XDG_CONFIG_HOME": str(tmp_path / "config")},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert out[0] == str(site / "cpulab" / "themes")
    assert "'cpulab-dark', 'cpulab-light'" in out[1]


def test_user_themes_are_added_and_win_over_shipped_ones(user_config):
    themes = user_config / "themes"
    themes.mkdir(parents=True)
    (themes / "mine.toml").write_text(GOOD)
    (themes / "dark.toml").write_text('name = "cpulab-dark"\nprimary = "#ff0000"\n')
    catalog = ThemeCatalog.load()
    assert catalog.themes["mine"].primary == "#336699"
    assert catalog.themes["cpulab-dark"].primary == "#ff0000"
    assert catalog.names()[:3] == ["cpulab-dark", "cpulab-light", "mine"]
    assert "nord" in catalog.names()  # Textual's own themes stay selectable


@pytest.mark.parametrize(("text", "reason"), BROKEN_THEMES)
def test_a_broken_theme_file_is_reported_with_its_reason(user_config, text, reason):
    themes = user_config / "themes"
    themes.mkdir(parents=True)
    (themes / "broken.toml").write_text(text)
    catalog = ThemeCatalog.load()
    assert "broken" not in catalog.themes and "x" not in catalog.themes
    assert str(themes / "broken.toml") in catalog.problems["broken"]
    assert reason in catalog.problems["broken"]


def test_a_theme_file_that_cannot_be_read_is_reported(tmp_path):
    path = tmp_path / "binary.toml"
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(ThemeError, match=r"binary\.toml"):
        load_theme_file(path)


def test_only_known_usable_theme_names_pass_the_check(user_config):
    themes = user_config / "themes"
    themes.mkdir(parents=True)
    (themes / "broken.toml").write_text("not toml at all")
    catalog = ThemeCatalog.load()
    assert catalog.check("nord") == "nord"
    with pytest.raises(UsageError, match=r"broken\.toml: Expected '='"):
        catalog.check("broken")  # named on the command line: bad input, not a fallback
    with pytest.raises(UsageError, match="unknown theme 'nosuch': choose one of cpulab-dark"):
        catalog.check("nosuch")
