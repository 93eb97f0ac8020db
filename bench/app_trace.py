"""Where the app's own CPU goes during one run: the accounting behind docs/PERFORMANCE.md's
"where a run's app CPU goes now".

    python bench/app_trace.py cv-eval --size 80x24 [--train 1 --eval 2] [--db PATH]
        [--shown MS] [--window FROM:TO] [--profile [--sort tottime] [--lines 40]]

Drives the real app on a pseudo-terminal as app_fidelity.py does (the task, the split,
full scale, `r`), with hooks inside the app that time, in thread CPU, each message
handled, each frame drawn and each restyle (with how many widgets it restyled). Prints
the main thread's CPU in every 250 ms of the run (key press to stored result), the
app's CPU over the run, the largest items of its first and last half second, and totals
by kind; `--shown 0` logs every item, not only those of a millisecond or more, and
--window FROM:TO sums the items of those seconds from the key by name. With --profile, a
cProfile of the main thread over the run and the second after it, in which the result is
drawn (thread CPU; the profiler makes the code it watches 3 to 4 times slower, so read its
shares, not its times); with --window, of those seconds only, to 50 ms: the measured call
alone, say, or the run's end. `--db` gives a store with a history on screen; the default
is a new one.
"""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

BIN = 0.25  # seconds
SHOWN_MS = 1.0  # items under this are left out of the log, unless --shown says otherwise
AFTER = 1.0  # seconds watched after the result is stored: its row and chart drawn


def inside(
    log_path: str, profile_path: str | None, shown_ms: float, app_arguments: list[str]
) -> int:
    """Run the app with the hooks in; the driver's SIGUSR1 and SIGUSR2 bound the profile."""
    import cProfile

    from textual.css.stylesheet import Stylesheet
    from textual.message_pump import MessagePump
    from textual.screen import Screen

    log = open(log_path, "w", buffering=1)  # noqa: SIM115 (open for the app's life)

    def note(started: float, what: str) -> None:
        spent = time.thread_time() - started
        if spent * 1000 >= shown_ms:
            log.write(f"{time.monotonic():.4f} {1000 * spent:.2f} {what}\n")

    dispatch = MessagePump._dispatch_message

    async def timed_dispatch(self, message):
        started = time.thread_time()
        try:
            return await dispatch(self, message)
        finally:
            note(started, f"message {type(self).__name__}.{type(message).__name__}")

    frame = Screen._compositor_refresh

    def timed_frame(self):
        started = time.thread_time()
        try:
            return frame(self)
        finally:
            note(started, "frame")

    restyle = Stylesheet.update_nodes

    def timed_restyle(self, nodes, animate=False):
        nodes = list(nodes)
        started = time.thread_time()
        try:
            return restyle(self, nodes, animate=animate)
        finally:
            note(started, f"restyle of {len(nodes)} widgets")

    collecting: dict[str, float] = {}

    def timed_collection(phase: str, info: dict) -> None:
        # The cyclic garbage collector's passes, which no message or frame owns.
        if phase == "start":
            collecting["started"] = time.thread_time()
        elif "started" in collecting:
            note(collecting.pop("started"), f"gc of generation {info['generation']}")

    gc.callbacks.append(timed_collection)
    MessagePump._dispatch_message = timed_dispatch  # type: ignore[method-assign]
    Screen._compositor_refresh = timed_frame  # type: ignore[method-assign]
    Stylesheet.update_nodes = timed_restyle  # type: ignore[method-assign]

    if profile_path:
        profiler = cProfile.Profile(time.thread_time)
        signal.signal(signal.SIGUSR1, lambda *_: profiler.enable())

        def dump(*_) -> None:
            profiler.disable()
            profiler.dump_stats(profile_path)

        signal.signal(signal.SIGUSR2, dump)

    from cpulab.startup import main

    sys.argv = ["cpulab", *app_arguments]
    return main()


def main_thread_cpu(pid: int) -> float:
    return int(Path(f"/proc/{pid}/task/{pid}/schedstat").read_text().split()[0]) / 1e9


def drive(args: argparse.Namespace) -> int:
    from app_fidelity import CASES, choose, finished_points, own_cpu
    from terminal import Terminal

    train, eval_ = CASES.get(args.task, (1, 2))
    train, eval_ = args.train or train, args.eval or eval_
    folder = Path(tempfile.mkdtemp())
    db = args.db or folder / "trace.sqlite"
    log, profile = folder / "trace.log", folder / "trace.prof"
    width, height = map(int, args.size.split("x"))
    command = [sys.executable, __file__, "--inside", str(log), str(args.shown)]
    command += ["--profile-to", str(profile)] if args.profile else []
    term = Terminal([*command, "--", "--db", str(db)], (width, height))
    try:
        choose(term, args.task, train, eval_)
        pid, done_before = term.proc.pid, len(finished_points(db))
        # The profile's window, in seconds from the key: the whole run by default.
        window = [float(s) for s in args.window.split(":")] if args.window else [0.0, 1e9]
        profiling = False

        def profile_to(elapsed: float) -> None:
            nonlocal profiling
            if args.profile and profiling != (window[0] <= elapsed < window[1]):
                profiling = not profiling
                os.kill(pid, signal.SIGUSR1 if profiling else signal.SIGUSR2)

        profile_to(0.0)
        term.watch("fitting", "scoring", note=lambda: (own_cpu(pid), main_thread_cpu(pid)))
        started, app_before, main_before = time.monotonic(), own_cpu(pid), main_thread_cpu(pid)
        term.press("r", pause=0)
        bins, last = [], main_before
        next_bin, stored = time.monotonic() + BIN, False
        while not stored:
            time.sleep(0.05)  # the window's edges to 50 ms; the store read once a bin
            profile_to(time.monotonic() - started)
            if time.monotonic() >= next_bin:
                now = main_thread_cpu(pid)
                bins.append(1000 * (now - last))
                last, next_bin = now, next_bin + BIN
                stored = len(finished_points(db)) > done_before
        ended, app_used = time.monotonic(), own_cpu(pid) - app_before
        while time.monotonic() < ended + AFTER:  # the result drawn; the window still kept
            time.sleep(0.05)
            profile_to(time.monotonic() - started)
        profile_to(1e9)
        time.sleep(0.5)  # the profile written
        term.press("q", pause=0)
        term.wait(30)
    finally:
        term.close()
    seconds = ended - started
    print(f"{args.task} {train} x {eval_} full at {args.size}: run {seconds:.2f} s")
    print(f"app CPU {1000 * app_used:.0f} ms ({100 * app_used / seconds:.2f} % of a core)")
    print(f"main thread, ms per {BIN * 1000:.0f} ms: " + " ".join(f"{b:.0f}" for b in bins))
    noted = [term.noted.get(word) for word in (b"fitting", b"scoring")]
    call = None not in noted  # both words drawn, each with the CPU read as it was
    if call:
        fit, score = (term.seen[w] - started for w in (b"fitting", b"scoring"))
        (app_fit, main_fit), (app_score, main_score) = noted
        app_ms, main_ms = 1000 * (app_score - app_fit), 1000 * (main_score - main_fit)
        print(f"measured call (fitting to scoring drawn) {fit:.3f} to {score:.3f} s: app "
              f"{app_ms:.1f} ms ({app_ms / 10 / (score - fit):.2f} %), main thread "
              f"{main_ms:.1f} ms")  # fmt: skip
    items = []
    for line in log.read_text().splitlines():
        at, spent, what = line.split(" ", 2)
        if started - 0.05 <= float(at) <= ended + AFTER:
            items.append((float(at) - started, float(spent), what))
    for title, chosen in (
        ("the first half second", [i for i in items if i[0] < 0.5]),
        ("the last half second and after", [i for i in items if i[0] > seconds - 0.5]),
    ):
        print(f"\nlargest items of {title} (s from the key, ms):")
        for at, spent, what in sorted(chosen, key=lambda i: -i[1])[:10]:
            print(f"  {at:6.3f} {spent:6.2f}  {what}")
    kinds: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for _, spent, what in items:
        kind = what.split(" ", 1)[0]
        kinds[kind] += spent
        counts[kind] += 1
    print(f"\nitems of {args.shown:g} ms or more, over the run (a message's time includes the")
    print("restyles it causes; frames are apart):")
    for kind, spent in kinds.most_common():
        print(f"  {kind}: {counts[kind]} taking {spent:.0f} ms")
    sums = [(window, "after the key")] if args.window else []
    sums += [((fit, score), "after the key: the measured call")] if call else []
    for (low, high), what in sums:
        print(f"\nitems from {low:g} to {high:g} s {what}, by name, ms (and how many):")
        print_by_name([item for item in items if low <= item[0] < high], args.lines)
    if args.profile and not profile.exists():
        print(f"\nno profile: the window {args.window} missed the run and the {AFTER} s after it")
    elif args.profile:
        import pstats

        print()
        stats = pstats.Stats(str(profile))
        stats.sort_stats(args.sort).print_stats(args.lines)
    return 0


def print_by_name(items: list[tuple[float, float, str]], lines: int) -> None:
    """The items' times summed by name, the largest first."""
    totals: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for _, spent, what in items:
        totals[what] += spent
        counts[what] += 1
    for what, spent in totals.most_common(lines):
        print(f"  {spent:8.2f} {counts[what]:5d}  {what}")


def main() -> int:
    if len(sys.argv) > 3 and sys.argv[1] == "--inside":
        shown_ms, rest = float(sys.argv[3]), sys.argv[4:]
        profile_path = None
        if rest[:1] == ["--profile-to"]:
            profile_path, rest = rest[1], rest[2:]
        return inside(sys.argv[2], profile_path, shown_ms, rest[1:])  # after "--"
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("task")
    parser.add_argument("--size", default="200x60", help="COLUMNSxROWS")
    parser.add_argument("--train", type=int)
    parser.add_argument("--eval", type=int)
    parser.add_argument("--db", type=Path, help="a store to open, e.g. with a history")
    parser.add_argument("--profile", action="store_true", help="cProfile the main thread")
    parser.add_argument("--sort", default="cumulative", help="the profile's order (pstats)")
    parser.add_argument("--lines", type=int, default=25, help="the profile's length")
    parser.add_argument(
        "--window", metavar="FROM:TO", help="these seconds of the run: profiled, items summed"
    )
    parser.add_argument(
        "--shown", type=float, default=SHOWN_MS, metavar="MS", help="log items of MS or more"
    )
    return drive(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
