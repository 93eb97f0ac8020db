"""Facts about the machine and its software, recorded with every result.

They are kept apart: the machine (host, CPU, cores, limits) says whether two results ran
on the same hardware; the software (Python, the OS, library versions) says what ran on
it, so an upgrade of scikit-learn leaves the machine the same.
"""

from __future__ import annotations

import platform
import sys
from functools import cache
from importlib import metadata

from cpulab.engine.cores import core_budget
from cpulab.engine.topology import machine_topology

LIBRARIES = ("scikit-learn", "joblib", "numpy", "scipy", "threadpoolctl", "psutil")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


@cache
def machine_facts() -> dict:
    """The hardware and its limits. Cheap, safe in the UI process: no scikit-learn, no numpy."""
    import psutil

    return {
        "hostname": platform.node(),
        "cpu_model": cpu_model(),
        "logical_cores": psutil.cpu_count(logical=True),
        "physical_cores": psutil.cpu_count(logical=False),
        "cores": core_budget().to_dict(),
        # Packages, cores, SMT threads and NUMA nodes from sysfs: psutil's physical count
        # above can be None or wrong. Not part of the machine's fingerprint (store.py).
        "topology": machine_topology().to_dict(),
    }


def software_facts() -> dict:
    """Python, the operating system and the installed library versions."""
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "libraries": dict(library_versions()),
    }


def thread_pools() -> list[dict]:
    """The BLAS/OpenMP thread pools loaded in this process (threadpoolctl). Call in the
    child or a worker: it reports the libraries the calling process has loaded."""
    from threadpoolctl import threadpool_info

    return [
        {
            "user_api": pool.get("user_api"),
            "internal_api": pool.get("internal_api"),
            "version": pool.get("version"),
            "num_threads": pool.get("num_threads"),
            "threading_layer": pool.get("threading_layer"),
        }
        for pool in threadpool_info()
    ]


@cache
def library_versions() -> dict[str, str | None]:
    """Installed versions, read once: reading package metadata takes milliseconds, and a
    sweep reports them with every point."""
    versions: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions
