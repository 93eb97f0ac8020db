"""How busy each core a run may use was, over the run: recorded in the runner child, beside
the tree meter's readings, and turned into a timeline's `CoreSamples`.

The readings are taken in the runner, at each reading of its process tree (4 Hz, see
`treemeter.SAMPLE_INTERVAL`) and at the start and end of every measured call: the tree
meter holds the runner's GIL for a moment then anyway. Parsing /proc/stat and making the
row costs 0.15-0.3 ms for 256 cores (test_timeline_runs.py times it on a fake file):
at 4 Hz under 0.1 % of a core, and no pause of the measured call longer than the tree
meter's own. A sampler in the app or in another process would see the same cores, but
not the measured call's exact bounds.

No scikit-learn; numpy loads where the readings are parsed, in the runner, which has it
loaded already. The rows are kept as bytes of half-percents (timeline.py).
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import psutil

from cpulab.engine.timeline import HALF_PERCENTS, OWN_STEPS, CoreSamples

PROC_STAT = "/proc/stat"
# Fields of a /proc/stat cpu line: user nice system idle iowait irq softirq steal (guest
# time is counted in user already). Busy is what load.py counts: user, nice, system, irq
# and softirq.
BUSY_FIELDS = (0, 1, 2, 5, 6)
TOTAL_FIELDS = 8
FULL = 100 * HALF_PERCENTS

if TYPE_CHECKING:
    import numpy as np

    # Per core: (busy ticks, all ticks) since boot, in whatever unit the source counts.
    Ticks = tuple[np.ndarray, np.ndarray]


def parse_proc_stat(data: bytes, cpus: Sequence[int]) -> Ticks:
    """Busy and total ticks of each of `cpus` from the text of /proc/stat; a core the
    file does not list (gone offline) reads as zeros.

    numpy parses the per-cpu lines in one call, each line's cpu number its first column:
    a line at a time in Python takes about 1 ms for 256 cores, under the runner's GIL."""
    import numpy as np

    wanted = np.asarray(cpus, dtype=np.int64)
    busy = np.zeros(len(wanted))
    total = np.zeros(len(wanted))
    first = data.find(b"\ncpu") + 1  # after the summed "cpu" line
    if first == 0:
        return busy, total
    end = data.find(b"\n", data.rfind(b"\ncpu") + 1)  # no later line starts with "cpu"
    block = data[first : end if end >= 0 else len(data)]
    numbers = np.fromstring(block.replace(b"cpu", b" "), dtype=np.int64, sep=" ")
    table = numbers.reshape(block.count(b"\n") + 1, -1)
    ids = table[:, 0]
    at = np.minimum(np.searchsorted(ids, wanted), len(ids) - 1)
    listed = ids[at] == wanted
    ticks = table[at, 1 : TOTAL_FIELDS + 1]
    busy[listed] = ticks[listed][:, list(BUSY_FIELDS)].sum(axis=1)
    total[listed] = ticks[listed].sum(axis=1)
    return busy, total


def read_core_ticks(cpus: Sequence[int]) -> Ticks:
    """The ticks of each core: /proc/stat read directly on Linux (psutil builds a named
    tuple per core of the machine), psutil elsewhere."""
    import numpy as np

    if sys.platform.startswith("linux"):
        try:
            with open(PROC_STAT, "rb") as stat:
                return parse_proc_stat(stat.read(), cpus)
        except (OSError, ValueError):
            pass
    per_cpu = psutil.cpu_times(percpu=True)
    busy = np.zeros(len(cpus))
    total = np.zeros(len(cpus))
    for i, cpu in enumerate(cpus):
        if cpu < len(per_cpu):
            times = per_cpu[cpu]
            busy[i] = (
                times.user
                + times.nice
                + times.system
                + getattr(times, "irq", 0.0)
                + getattr(times, "softirq", 0.0)
            )
            total[i] = sum(times)
    return busy, total


# One reading to the next: (start, end, half-percent of each core, the run's own cores).
Row = tuple[float, float, bytes, float]
# The most values (cores x samples) a timeline keeps: 4 minutes of 256 cores at 4 Hz, about
# 330 kB in the store where nothing compresses.
MOST_VALUES = 4 * 60 * 4 * 256


class CoreRecorder:
    """Each core's use and the run's own share between consecutive readings.

    `record(tree_cpu)` is called by the tree meter at each reading with the CPU seconds
    its tree has used so far; `samples(start, end)` resamples the rows onto a regular
    clock of `interval` seconds. `trim(before)` forgets rows no timeline will need.
    """

    def __init__(
        self,
        cpus: Sequence[int],
        interval: float,
        read: Callable[[Sequence[int]], Ticks] = read_core_ticks,
        clock: Callable[[], float] = time.time,
    ):
        self.cpus = tuple(cpus)
        self.interval = interval
        self._read = read
        self._clock = clock
        self._last: tuple[float, np.ndarray, np.ndarray, float] | None = None
        self._rows: list[Row] = []
        self._lock = threading.Lock()

    def record(self, tree_cpu: float) -> None:
        if not self.cpus:
            return
        now = self._clock()
        last = self._last
        # A reading just after another (the measuring code's, beside the meter's own) is
        # left to the next: CPU times move in ticks of 10 ms, and one tick over a few ms
        # would read as several cores.
        if last is not None and now - last[0] < self.interval / 2:
            return
        busy, total = self._read(self.cpus)
        self._last = (now, busy, total, tree_cpu)
        if last is None:
            return
        import numpy as np

        then, busy0, total0, cpu0 = last
        ticks = total - total0
        share = np.divide(busy - busy0, ticks, out=np.zeros(len(ticks)), where=ticks > 0)
        row = np.rint(np.clip(share, 0.0, 1.0) * FULL).astype(np.uint8).tobytes()
        with self._lock:
            own = min(max(0.0, (tree_cpu - cpu0) / (now - then)), len(self.cpus))
            self._rows.append((then, now, row, own))

    def trim(self, before: float) -> None:
        """Forget rows that end before `before`."""
        with self._lock:
            keep = next((i for i, row in enumerate(self._rows) if row[1] > before), None)
            del self._rows[: len(self._rows) if keep is None else keep]

    def samples(self, start: float, end: float) -> CoreSamples | None:
        """The rows over [start, end] on a regular clock: each sample the mean of the rows
        it overlaps, weighted by the overlap. None where no row falls in the window."""
        with self._lock:
            rows = [row for row in self._rows if row[1] > start and row[0] < end]
        if not rows:
            return None
        t0 = max(start, rows[0][0])
        stop = min(end, rows[-1][1])
        cores = len(self.cpus)
        # A long run on many cores gets coarser samples: its timeline stays a few hundred
        # kB, well inside the runner's event line.
        interval = max(self.interval, (stop - t0) / max(1, MOST_VALUES // cores))
        count = max(1, math.ceil((stop - t0) / interval - 1e-9))
        values = bytearray()
        own: list[float] = []
        first = 0
        for i in range(count):
            a = t0 + i * interval
            b = a + interval
            sums = [0.0] * cores
            own_sum = weight = 0.0
            while first < len(rows) and rows[first][1] <= a:
                first += 1
            for row_start, row_end, row, share in rows[first:]:
                if row_start >= b:
                    break
                overlap = min(b, row_end) - max(a, row_start)
                if overlap <= 0:
                    continue
                weight += overlap
                own_sum += share * overlap
                for j, value in enumerate(row):
                    sums[j] += value * overlap
            if weight:
                values.extend(min(FULL, round(s / weight)) for s in sums)
                own.append(own_sum / weight)
            else:
                values.extend(bytes(cores))
                own.append(0.0)
        return CoreSamples(
            t0,
            interval,
            self.cpus,
            bytes(values),
            tuple(max(0, round(share * OWN_STEPS)) for share in own),
        )
