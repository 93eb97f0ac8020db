"""`cpulab` with no command: the app on a terminal, a short scaling check anywhere else."""

from __future__ import annotations

import argparse

from cpulab.cli.config import apply_settings
from cpulab.cli.parser import build_parser, run_options
from cpulab.engine.plugins import load_catalogue
from cpulab.engine.store import ResultStore


def cmd_demo(args: argparse.Namespace) -> int:
    """What `cpulab` does off a terminal: a quick scaling check of the first task, with
    the options given (data, backend, store ...) as the app would have used them."""
    from cpulab.cli.sweep import cmd_sweep  # as COMMANDS does: a command loads when it runs

    demo = build_parser().parse_args(["sweep", "rf-train", "--repeats", "1", "--warmup", "0"])
    vars(demo).update((key, value) for key, value in vars(args).items() if key != "command")
    apply_settings(demo, args.settings)
    return cmd_sweep(demo)


def open_app(args: argparse.Namespace) -> int:
    # Textual loads only for the app.
    from cpulab.ui.app import CpulabApp, run_app
    from cpulab.ui.settings import check_app_settings

    # The settings file's theme and keys, refused here as the command line's would be;
    # the app reads the file again for what the command line leaves open.
    check_app_settings(args.settings, CpulabApp.BINDINGS)
    catalogue = load_catalogue(args.task_files)
    options = run_options(args).check()  # refused here, not at every run in the app
    with ResultStore.open(args.db) as store:
        return run_app(
            theme=args.theme,
            sample_hz=args.sample_hz,
            store=store,
            catalogue=catalogue,
            options=options,
            settings_file=args.settings.path,
        )
