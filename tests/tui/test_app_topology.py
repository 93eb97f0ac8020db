"""The app's title tells the machine's topology, where it is given one."""

from pathlib import Path

from cpulab.engine.topology import read_topology
from support.tui import make_app

TREES = Path(__file__).resolve().parents[1] / "fixtures" / "sysfs"


async def test_the_title_tells_the_topology():
    app = make_app(cores=64, topology=read_topology(TREES / "two-socket"))
    async with app.run_test(size=(200, 60)):
        assert app.sub_title == (
            "64 of 64 cores available · 2 packages x 16 cores x 2 threads, 2 NUMA nodes"
        )


async def test_without_a_topology_the_title_tells_the_cores_alone():
    app = make_app(cores=2)
    async with app.run_test(size=(100, 30)):
        assert app.sub_title == "2 of 2 cores available"
