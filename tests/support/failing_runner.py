"""Stands in for the runner: the real one, on a task whose workload cannot be built."""

import json
import sys

from cpulab.engine import runner


def refuse(setting):
    raise ValueError("the workload refused to build")


if __name__ == "__main__":
    spec = json.loads(sys.argv[1])
    spec["builder"] = "__main__:refuse"
    sys.exit(runner.main([json.dumps(spec)]))
