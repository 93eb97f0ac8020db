"""The run cgroup's bookkeeping, on a plain folder: which leftovers it may remove."""

import os

from cpulab.engine.cgroup import PREFIX, _remove_abandoned


def test_only_empty_groups_of_dead_cpulabs_are_removed(tmp_path):
    dead = tmp_path / f"{PREFIX}999999999-1"  # beyond any pid the kernel hands out
    mine = tmp_path / f"{PREFIX}{os.getpid()}-1"
    busy = tmp_path / f"{PREFIX}999999999-2"
    other = tmp_path / "someone-else-999999999-1"
    for path in (dead, mine, busy, other):
        path.mkdir()
    (busy / "cgroup.procs").write_text("1\n")  # not empty: rmdir must fail, and does

    _remove_abandoned(tmp_path)

    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in (mine, busy, other))
