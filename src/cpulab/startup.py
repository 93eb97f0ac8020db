"""The `cpulab` command's first lines: the cyclic garbage collector held off while it loads.

Loading the app makes a few hundred thousand objects that live as long as the process
(modules, classes, widgets, their styles), and the collector walked them again and again
as they were made: about a tenth of the time to the app's first frame. `main` holds it
off from the start; `release_collector` lets it run again once the app has drawn its first
frame, or a command has loaded and starts its work. What was made by then is kept out of
its passes for good (`gc.freeze`): the later ones walk only what is new. That includes the
little garbage in reference cycles the start left (about half a megabyte in the app), which
is never freed: a full pass to free it first would cost the app 70 to 120 ms.
"""

from __future__ import annotations

import gc

_held = False  # whether the collector is off because hold_collector turned it off


def hold_collector() -> None:
    """Turn the collector off until `release_collector`, where it is on."""
    global _held
    if gc.isenabled():
        gc.disable()
        _held = True


def release_collector() -> None:
    """Turn the collector on again if `hold_collector` turned it off; a process that
    turned it off itself (a test, a program importing cpulab) keeps it so."""
    global _held
    if _held:
        _held = False
        gc.freeze()
        gc.enable()


def main() -> int:
    """The console script's entry: `cpulab.cli.main` with the collector held while the
    command line, the engine and the app load."""
    hold_collector()
    from cpulab.cli import main as cli_main

    return cli_main()
