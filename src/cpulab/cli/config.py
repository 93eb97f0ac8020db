"""`cpulab config`: where the settings file is, and every setting in effect with where it
came from. Also how every command reads that file: once, before it does anything else."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from cpulab.cli.parser import DEFAULT_SCALE, EXIT_OK, one_line, store_path
from cpulab.engine.settings import ENV_VAR, Settings, load_settings
from cpulab.engine.store import ENV_VAR as STORE_ENV_VAR
from cpulab.monitor.sampler import DEFAULT_HZ

COMMAND_LINE, ENVIRONMENT, FILE, DEFAULT = "command line", "environment", "file", "default"


def read_settings() -> Settings:
    """The settings file, checked (UsageError where it cannot be used); the names in it
    cpulab does not know are a warning."""
    settings = load_settings()
    for warning in settings.warnings():
        print(f"cpulab: warning: {one_line(warning)}", file=sys.stderr)
    return settings


def apply_settings(args: argparse.Namespace, settings: Settings) -> None:
    """Fill in what the command line left to the settings file."""
    args.settings = settings
    if getattr(args, "scale", DEFAULT_SCALE) is None:  # run and sweep
        args.scale = settings.scale or DEFAULT_SCALE


def cmd_config(args: argparse.Namespace) -> int:
    # Themes and keys are the app's: Textual loads to check them as the app would.
    from cpulab.ui.app import CpulabApp
    from cpulab.ui.settings import check_app_settings, make_keymap
    from cpulab.ui.themes import DEFAULT_THEME

    settings: Settings = args.settings
    warnings = check_app_settings(settings, CpulabApp.BINDINGS)
    path = settings.path
    named = f" (from ${ENV_VAR})" if os.environ.get(ENV_VAR) else ""
    print(f"settings file: {one_line(str(path))}{named}")
    print(f"  {'exists' if settings.exists else 'does not exist: every setting is a default'}")
    rows = [
        _setting("theme", args.theme, settings.theme, DEFAULT_THEME),
        _setting("sample_hz", args.sample_hz, settings.sample_hz, DEFAULT_HZ),
        _setting("scale", None, settings.scale, DEFAULT_SCALE),
        ("db", str(store_path(args.db, settings.db)), _db_source(args.db, settings)),
        _setting(
            "screenshot_dir",
            None,
            settings.screenshot_dir,
            Path.cwd(),
            default="default (the current directory)",
        ),
    ]
    for choice in make_keymap(settings.keys, CpulabApp.BINDINGS).choices:
        rows.append(
            (
                f"keys.{choice.binding.id}",
                choice.keys,
                DEFAULT if choice.override is None else FILE,
            )
        )
    width = max(len(name) for name, _, _ in rows)
    value_width = min(max(len(value) for _, value, _ in rows), 48)
    print()
    for name, value, source in rows:
        print(f"{name:<{width}}  {one_line(value):<{value_width}}  {source}")
    for warning in warnings:
        print(f"cpulab: warning: {one_line(warning)}", file=sys.stderr)
    return EXIT_OK


def _setting(
    name: str, given: object, in_file: object, fallback: object, default: str = DEFAULT
) -> tuple[str, str, str]:
    if given is not None:
        return name, _shown(given), COMMAND_LINE
    if in_file is not None:
        return name, _shown(in_file), FILE
    return name, _shown(fallback), default


def _db_source(given: Path | None, settings: Settings) -> str:
    if given is not None:
        return COMMAND_LINE
    if os.environ.get(STORE_ENV_VAR):
        return f"{ENVIRONMENT} (${STORE_ENV_VAR})"
    return FILE if settings.db is not None else DEFAULT


def _shown(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
