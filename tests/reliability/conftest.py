from pathlib import Path

import pytest

from cpulab.engine.store import ResultStore
from support.store import result


@pytest.fixture
def good_store(results_store) -> Path:
    """The store CPULAB_DB names holds a result: no bad input may change it."""
    with ResultStore.open(results_store) as store:
        store.add_point(result())
    return results_store
