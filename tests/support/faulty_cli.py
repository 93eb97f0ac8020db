"""The real command line with the misbehaving workloads in its catalogue, as fault-NAME tasks.

    python -m support.faulty_cli run fault-raises   # with tests/ on PYTHONPATH

Only the catalogue is extended: the CLI, the supervisor and the runner child are the
product's own. The runner finds the workloads through PYTHONPATH (the `child_env` fixture).
"""

import sys

from cpulab import cli
from cpulab.engine.tasks import CATALOGUE
from support import faulty_workloads

if __name__ == "__main__":
    CATALOGUE.update(faulty_workloads.catalogue())
    sys.exit(cli.main())
