"""The machine's topology read from sysfs: fake trees of a 2-socket server, a 256-thread
4-node server and this VM (tests/fixtures/sysfs, made by make_trees.py there)."""

from pathlib import Path

import pytest

from cpulab.engine.machine import machine_facts
from cpulab.engine.topology import (
    cpulist_text,
    fallback_topology,
    machine_topology,
    parse_cpulist,
    read_topology,
)

TREES = Path(__file__).resolve().parents[1] / "fixtures" / "sysfs"


def write(root: Path, path: str, text: str) -> None:
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text + "\n")


def test_a_two_socket_machine_with_smt():
    topology = read_topology(TREES / "two-socket")
    assert topology.cpus == tuple(range(64))
    assert topology.physical_cores == 32 and topology.threads_per_core == 2
    assert topology.packages == (0, 1) and topology.nodes == (0, 1)
    assert (0, 32) in topology.siblings and (16, 48) in topology.siblings
    assert all(len(group) == 2 for group in topology.siblings)
    assert topology.node_cpus(1) == (*range(16, 32), *range(48, 64))
    assert topology.package_cores() == {0: 16, 1: 16}
    assert topology.isolated == ()
    assert topology.summary() == "2 packages x 16 cores x 2 threads, 2 NUMA nodes"


def test_a_256_thread_machine_with_four_numa_nodes():
    topology = read_topology(TREES / "epyc-256")
    assert len(topology.cpus) == 256 and topology.physical_cores == 128
    assert topology.nodes == (0, 1, 2, 3)
    assert topology.node_cpus(2) == (*range(64, 96), *range(192, 224))
    assert (5, 133) in topology.siblings and (200, 72) not in topology.siblings
    assert topology.isolated == (126, 127, 254, 255)
    assert topology.summary() == (
        "2 packages x 64 cores x 2 threads, 4 NUMA nodes, isolated 126-127,254-255"
    )
    facts = topology.to_dict()
    assert facts["physical_cores"] == 128 and facts["threads_per_core"] == 2
    assert facts["numa_nodes"]["3"] == "96-127,224-255"


def test_this_vm_as_copied_from_sys():
    topology = read_topology(TREES / "vm")
    assert topology.cpus == (0, 1) and topology.siblings == ((0,), (1,))
    assert topology.physical_cores == 2 and topology.nodes == (0,)
    assert topology.summary() == "1 package x 2 cores x 1 thread, 1 NUMA node"


def test_without_sysfs_one_package_one_node_and_smt_unknown(tmp_path):
    topology = read_topology(tmp_path / "nothing")
    assert topology == fallback_topology(topology.cpus)
    assert not topology.smt_known and topology.physical_cores == len(topology.cpus)
    assert topology.summary().endswith("cores, SMT unknown, 1 NUMA node")
    assert topology.to_dict()["threads_per_core"] is None


def test_cpus_without_topology_files_are_the_fallback_of_those_cpus(tmp_path):
    write(tmp_path, "devices/system/cpu/online", "0-2")
    topology = read_topology(tmp_path)
    assert topology.cpus == (0, 1, 2) and not topology.smt_known


def test_offline_cpus_and_bad_files_are_left_out(tmp_path):
    for cpu in range(4):
        where = f"devices/system/cpu/cpu{cpu}/topology"
        write(tmp_path, f"{where}/physical_package_id", "0")
        write(tmp_path, f"{where}/core_id", str(cpu % 2))
        write(tmp_path, f"{where}/core_cpus_list", f"{cpu % 2},{cpu % 2 + 2}")
    write(tmp_path, "devices/system/cpu/online", "0-2")  # cpu3 went offline
    write(tmp_path, "devices/system/cpu/isolated", "garbage")
    write(tmp_path, "devices/system/node/node0/cpulist", "0-3")
    topology = read_topology(tmp_path)
    assert topology.cpus == (0, 1, 2)
    assert topology.siblings == ((0, 2), (1,))
    assert topology.isolated == ()
    assert topology.summary() == "2 cores in 1 package, 3 threads, 1 NUMA node"


@pytest.mark.parametrize(
    ("text", "cpus"),
    [("0-3,8-11", (0, 1, 2, 3, 8, 9, 10, 11)), ("5", (5,)), ("", ()), ("\n", ()), ("1,0", (0, 1))],
)
def test_cpulists_are_read_and_written_as_sysfs_does(text, cpus):
    assert parse_cpulist(text) == cpus
    assert parse_cpulist(cpulist_text(cpus)) == cpus


@pytest.mark.parametrize("text", ["3-1", "x", "0-", "-1", "0-99999999"])
def test_a_malformed_cpulist_is_refused(text):
    with pytest.raises(ValueError):
        parse_cpulist(text)


def test_the_machine_record_carries_the_topology():
    facts = machine_facts()
    assert facts["topology"] == machine_topology().to_dict()
    assert facts["topology"]["summary"] == machine_topology().summary()
    assert {"hostname", "cpu_model", "logical_cores", "physical_cores", "cores"} <= set(facts)
