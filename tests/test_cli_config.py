"""`cpulab config` and the settings file on the command line: every setting with where it
came from, and a file that cannot be used refused in one line with status 2."""

from pathlib import Path

import pytest

from cpulab.cli.config import apply_settings
from cpulab.cli.parser import build_parser
from cpulab.engine.settings import load_settings
from support.cli import cpulab


def setting(out: str, name: str) -> list[str]:
    """The value and the source of `name` in `cpulab config`'s table."""
    line = next(line for line in out.splitlines() if line.split()[:1] == [name])
    name, value, *source = line.split()
    return [value, " ".join(source)]


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "elsewhere" / "cpulab.toml"
    path.parent.mkdir()
    monkeypatch.setenv("CPULAB_CONFIG", str(path))
    return path


def test_without_a_file_every_setting_is_a_default(user_config, monkeypatch):
    monkeypatch.delenv("CPULAB_DB")
    done = cpulab("config")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"settings file: {user_config / 'settings.toml'}\n")
    assert "does not exist" in done.stdout
    assert setting(done.stdout, "theme") == ["cpulab-dark", "default"]
    assert setting(done.stdout, "sample_hz") == ["4", "default"]
    assert setting(done.stdout, "scale") == ["small", "default"]
    assert setting(done.stdout, "db")[1] == "default"
    assert setting(done.stdout, "keys.run") == ["r", "default"]
    assert setting(done.stdout, "keys.help") == ["f1,question_mark", "default"]
    assert done.stderr == ""


def test_each_setting_says_where_it_came_from(settings, results_store):
    settings.write_text(
        '# mine\ntheme = "nord"\nsample_hz = 2\nscale = "full"\ndb = "/nowhere/r.sqlite"\n'
        'screenshot_dir = "~/shots"\n[keys]\nrun = "ctrl+r"\n'
    )
    done = cpulab("--sample-hz", "8", "config")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"settings file: {settings} (from $CPULAB_CONFIG)\n  exists\n")
    assert setting(done.stdout, "theme") == ["nord", "file"]
    assert setting(done.stdout, "sample_hz") == ["8", "command line"]
    assert setting(done.stdout, "scale") == ["full", "file"]
    # $CPULAB_DB wins over the file, --db over both.
    assert setting(done.stdout, "db") == [str(results_store), "environment ($CPULAB_DB)"]
    assert setting(cpulab("--db", "/x.sqlite", "config").stdout, "db") == [
        "/x.sqlite",
        "command line",
    ]
    assert setting(done.stdout, "screenshot_dir") == [str(Path.home() / "shots"), "file"]
    assert setting(done.stdout, "keys.run") == ["ctrl+r", "file"]
    assert setting(done.stdout, "keys.sweep") == ["w", "default"]


def test_a_byte_order_mark_before_the_settings_is_read_past(settings):
    settings.write_bytes(b'\xef\xbb\xbfscale = "full"\n')  # as some editors save UTF-8
    done = cpulab("config")
    assert done.returncode == 0, done.stderr
    assert setting(done.stdout, "scale") == ["full", "file"]


def test_the_files_db_is_used_where_the_environment_names_none(settings, monkeypatch, tmp_path):
    monkeypatch.delenv("CPULAB_DB")
    store = tmp_path / "from-settings.sqlite"
    settings.write_text(f'db = "{store}"\n')
    assert setting(cpulab("config").stdout, "db") == [str(store), "file"]
    done = cpulab("delete", "1")
    assert done.stderr == f"cpulab: error: no stored result #1 in {store}\n"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("theme = ", "is not TOML"),
        ("sample_hz = [1]\n", "sample_hz must be a number"),
        ("sample_hz = 1000\n", "the sampling rate must be between"),
        ('scale = "huge"\n', "scale must be one of small, full"),
        ("db = 5\n", "db must be a string in quotes, not 5"),
        ('db = " "\n', "db must name something, not be empty"),
        ("keys = 1\n", "keys must be a table"),
        ("[keys]\nrun = 1\n", "keys.run must be keys in quotes"),
        ('db = "~nosuchuser/x"\n', "cannot find the home directory"),
    ],
)
@pytest.mark.parametrize("command", ["config", "history"])
def test_a_settings_file_that_cannot_be_used_is_one_line_and_status_2(
    settings, text, said, command
):
    settings.write_text(text)
    done = cpulab(command)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"cpulab: error: settings file {settings}")
    assert said in done.stderr


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('theme = "no-such-theme"\n', "unknown theme 'no-such-theme'"),
        ('[keys]\nrun = "ctlr+r"\n', "'ctlr' is not a modifier"),
        ('[keys]\nrun = "rr"\n', "'rr' is not a key name"),
    ],
)
def test_the_apps_settings_are_checked_by_config(settings, text, said):
    settings.write_text(text)
    done = cpulab("config")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.count("\n") == 1 and said in done.stderr


def test_unknown_settings_are_a_warning_naming_them(settings):
    settings.write_text('colour = "red"\nsize = 3\n[keys]\nrun = "ctrl+r"\nfly = "y"\n')
    done = cpulab("config")
    assert done.returncode == 0, done.stderr
    assert f"cpulab: warning: {settings}: unknown settings, left out: colour, size\n" in (
        done.stderr
    )
    assert "[keys] names no key binding fly" in done.stderr
    assert setting(done.stdout, "keys.run") == ["ctrl+r", "file"]


def test_a_directory_or_a_missing_file_is_told_apart(settings):
    settings.mkdir()
    done = cpulab("config")
    assert done.returncode == 2 and "Is a directory" in done.stderr


def test_the_settings_scale_is_what_run_and_sweep_start_with(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text('scale = "full"\n')
    for argv, scale in ((["run", "rf-train"], "full"), (["sweep", "--scale", "small"], "small")):
        args = build_parser().parse_args(argv)
        apply_settings(args, load_settings(path))
        assert args.scale == scale
