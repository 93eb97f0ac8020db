"""Reading a process tree from /proc: real trees against psutil, and the bookkeeping on a
/proc made of plain files."""

import os
import subprocess
import sys

import psutil
import pytest

from cpulab.engine import proctree
from cpulab.engine.proctree import CLOCK_TICKS, PAGE_SIZE, ProcTree, PsutilTree, parse_stat
from cpulab.engine.treemeter import TreeMeter
from support.trees import Tree, fan

linux = pytest.mark.skipif(not proctree.has_proc(), reason="no /proc here")
TICK = 1 / CLOCK_TICKS
ODD_NAME = "a) (b c"  # what a name may hold: PR_SET_NAME allows 15 bytes of anything


def stat_line(pid: int, name: str, ppid: int, start: int, utime: int = 0, rss: int = 0) -> str:
    """A /proc/PID/stat line with the fields the reader uses set, the others zero."""
    fields = ["S", str(ppid)] + ["0"] * 50
    fields[11], fields[19], fields[21] = str(utime), str(start), str(rss)
    return f"{pid} ({name}) " + " ".join(fields) + "\n"


def test_the_fields_follow_the_last_parenthesis_whatever_the_name_holds():
    line = stat_line(42, "x) (y z) 9 9", ppid=7, start=123, utime=250, rss=10)
    stat = parse_stat(42, line.encode())
    assert stat is not None
    assert (stat.pid, stat.ppid, stat.start) == (42, 7, 123)
    assert stat.cpu == 250 / CLOCK_TICKS and stat.rss == 10 * PAGE_SIZE


@pytest.mark.parametrize("data", [b"", b"42 (cut short", b"42 (x) S 1 2", b"42 (x) S one two"])
def test_what_is_not_a_stat_line_reads_as_none(data):
    assert parse_stat(42, data) is None


def pids(stats) -> set[int]:
    return {pid for pid, _ in stats}


def psutil_tree(pid: int) -> set[int]:
    return {pid} | {p.pid for p in psutil.Process(pid).children(recursive=True)}


@linux
def test_a_real_tree_reads_as_psutil_reads_it():
    # 20 idle in two levels, two that spin a little first, one with a name to trip a parser.
    shape = {"kids": [*fan(5, 3), *fan(2, spin=0.1), {"name": ODD_NAME}]}
    with Tree(shape) as tree:
        fast, slow = ProcTree(tree.pid), PsutilTree(tree.pid)
        ours, theirs = fast.read(), slow.read()
        assert pids(ours) == pids(theirs) == psutil_tree(tree.pid)
        assert len(ours) == 24
        by_pid = {stat.pid: stat for stat in theirs.values()}
        for stat in ours.values():  # an idle tree: a tick's difference at most
            assert abs(stat.cpu - by_pid[stat.pid].cpu) <= TICK + 1e-9
            assert stat.ppid == psutil.Process(stat.pid).ppid()
            # The kernel sums resident pages per CPU lazily: a read moments later may differ.
            assert abs(stat.rss - by_pid[stat.pid].rss) <= 2**20
        assert sum(s.cpu for s in ours.values()) >= 0.15  # the two spinners: 0.2 s
        named = [p for p in psutil.Process(tree.pid).children() if p.name() == ODD_NAME]
        assert [stat.ppid for stat in ours.values() if stat.pid == named[0].pid] == [tree.pid]
        fast.close()
        assert fast.read().keys() == ours.keys()  # closed, it reads on, opening anew


# Starts a child when told to, and ends it when told again.
LATER = """
import subprocess, sys
sys.stdin.readline()
kid = subprocess.Popen(["sleep", "60"])
print(kid.pid, flush=True)
sys.stdin.readline()
kid.kill()
kid.wait()
print("reaped", flush=True)
sys.stdin.readline()
"""


@linux
def test_processes_started_later_join_and_ended_ones_leave():
    root = subprocess.Popen(
        [sys.executable, "-c", LATER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert root.stdin is not None and root.stdout is not None

    def tell() -> str:
        root.stdin.write("\n")
        root.stdin.flush()
        return root.stdout.readline().strip()

    try:
        with Tree({"kids": fan(2)}) as outsider:  # another tree: never members
            reader = ProcTree(root.pid)
            assert pids(reader.read()) == {root.pid}
            kid = int(tell())
            assert pids(reader.read()) == {root.pid, kid}
            assert tell() == "reaped"
            assert pids(reader.read()) == {root.pid}
            assert not pids(reader.read()) & psutil_tree(outsider.pid)
    finally:
        root.kill()
        root.wait()


@linux
def test_a_member_handed_to_init_stays_a_member():
    # A child that leaves a child of its own behind when it ends, as a detaching daemon
    # does: read before, the orphan stays in (the psutil readers kept it too).
    shape = {"kids": [{"kids": [{}]}]}
    with Tree(shape) as tree:
        reader = ProcTree(tree.pid)
        reader.read()
        child = psutil.Process(tree.pid).children()[0]
        orphan = child.children()[0]
        child.kill()
        child.wait(5)
        assert orphan.ppid() != child.pid
        stats = {stat.pid: stat for stat in reader.read().values()}
        assert orphan.pid in stats and child.pid not in stats
        assert stats[orphan.pid].ppid == orphan.ppid()
        orphan.kill()


@linux
def test_a_daemon_that_left_before_it_was_seen_is_missed():
    # What a cgroup is for: the /proc reader cannot know it was the run's.
    with Tree({"kids": [{"detach": True, "kids": [{}]}]}) as tree:
        assert pids(ProcTree(tree.pid).read()) == {tree.pid}


@linux
def test_a_pid_that_does_not_exist_reads_as_an_empty_tree_without_looking_further(monkeypatch):
    listings = []
    monkeypatch.setattr(proctree, "_listing", lambda: listings.append(1) or {})
    reader = ProcTree(2**22 + 1)  # above any pid_max
    assert reader.read() == {} and reader.read() == {}
    assert listings == []
    assert PsutilTree(2**22 + 1).read() == {}


@linux
def test_the_runner_meter_counts_an_ended_worker_once():
    with Tree({"kids": [{"spin": 0.2}, {}]}) as tree:
        meter = TreeMeter(tree.pid)
        meter.start()
        before = meter.cpu_snapshot()
        spinner = max(psutil.Process(tree.pid).children(), key=lambda p: sum(p.cpu_times()))
        used = sum(spinner.cpu_times()[:2])
        spinner.kill()
        spinner.wait(5)
        assert meter.peak_rss > 0
        # Its CPU was read while it ran; gone, its last reading stands (and no second one).
        assert meter.cpu_since({}) == pytest.approx(sum(before.values()), abs=TICK)
        assert sum(before.values()) >= used
        meter.stop()


class FakeProc:
    """A /proc of plain files: processes are added, ended, and their pids reused."""

    def __init__(self, root, monkeypatch):
        self.root = root
        self.last_pid = 100
        self.ended = 0
        monkeypatch.setattr(proctree, "PROC", str(root))
        monkeypatch.setattr(proctree, "LAST_PID", str(root / "ns_last_pid"))
        self.listings = 0
        listing = proctree._listing

        def counted():
            self.listings += 1
            return listing()

        monkeypatch.setattr(proctree, "_listing", counted)
        self._write_last()

    def _write_last(self):
        (self.root / "ns_last_pid").write_text(f"{self.last_pid}\n")

    def start(self, pid: int, ppid: int, start: int, utime: int = 0) -> None:
        (self.root / str(pid)).mkdir()
        (self.root / str(pid) / "stat").write_text(stat_line(pid, "p", ppid, start, utime))
        self.last_pid += 1
        self._write_last()

    def end(self, pid: int) -> None:
        # Moved aside, not removed: a new entry must not get the old inode back, as in
        # /proc it does not.
        self.ended += 1
        (self.root / str(pid)).rename(self.root / f"ended-{self.ended}")


@pytest.fixture
def fake_proc(tmp_path, monkeypatch):
    return FakeProc(tmp_path, monkeypatch)


def read_pids(reader: ProcTree) -> set[int]:
    return pids(reader.read())


@pytest.mark.parametrize("keep_files", [0, 8])
def test_the_kernels_last_pid_spares_a_listing_when_nothing_started(fake_proc, keep_files):
    fake_proc.start(10, 1, start=5)
    fake_proc.start(11, 10, start=6)
    reader = ProcTree(10, keep_files=keep_files)
    assert read_pids(reader) == {10, 11} and fake_proc.listings == 1
    assert read_pids(reader) == {10, 11} and fake_proc.listings == 1
    fake_proc.start(12, 11, start=7)
    assert read_pids(reader) == {10, 11, 12} and fake_proc.listings == 2


def test_a_new_child_listed_before_its_new_parent_still_joins(fake_proc):
    fake_proc.start(10, 1, start=5)
    reader = ProcTree(10, keep_files=0)
    reader.read()
    fake_proc.start(3, 4, start=9)  # a grandchild, its pid lower after a wrap, same tick
    fake_proc.start(4, 10, start=9)
    assert read_pids(reader) == {10, 3, 4}


def test_a_reused_pid_is_told_apart_by_its_start(fake_proc):
    fake_proc.start(10, 1, start=5)
    fake_proc.start(11, 10, start=6)
    fake_proc.start(20, 1, start=6)  # not a member
    reader = ProcTree(10, keep_files=0)
    before = reader.read()
    # 11 ends and its pid goes to a process outside; 20 ends and its pid to a child of 10.
    fake_proc.end(11)
    fake_proc.end(20)
    fake_proc.start(11, 1, start=8)
    fake_proc.start(20, 10, start=8)
    after = reader.read()
    assert pids(after) == {10, 20}
    assert (11, 6) in before and (20, 8) in after


@linux
def test_files_kept_open_are_let_go():
    with Tree({"kids": fan(3)}) as tree:
        reader = ProcTree(tree.pid)
        reader.read()
        reader.read()
        kept = len(os.listdir("/proc/self/fd"))
        reader.close()
        assert len(os.listdir("/proc/self/fd")) == kept - 4
        assert ProcTree(tree.pid, keep_files=0).read().keys() == reader.read().keys()
        reader.close()


def test_elsewhere_psutil_reads_the_tree(monkeypatch):
    assert isinstance(proctree.tree_reader(os.getpid()), ProcTree) == proctree.has_proc()
    monkeypatch.setattr(proctree, "has_proc", lambda: False)
    assert isinstance(proctree.tree_reader(os.getpid()), PsutilTree)
