"""The real command line with the misbehaving workloads in its catalogue, as fault-NAME tasks.

    python faulty_cli.py run fault-raises

Only the catalogue is extended: the CLI, the supervisor and the runner child are the
product's own. The runner finds the workloads through PYTHONPATH (the `child_env` fixture).
"""

import sys

import faulty_workloads

from cpulab import cli
from cpulab.engine.tasks import CATALOGUE

if __name__ == "__main__":
    CATALOGUE.update(faulty_workloads.catalogue())
    sys.exit(cli.main())
