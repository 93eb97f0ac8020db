"""Stands in for the runner: the real one, on a task whose workload cannot be built."""

import io
import json
import sys

from cpulab.engine import runner


def refuse(setting):
    raise ValueError("the workload refused to build")


if __name__ == "__main__":
    spec = json.loads(sys.stdin.readline())  # as the supervisor sends it
    spec["task"]["builder"] = "__main__:refuse"
    sys.stdin = io.StringIO(json.dumps(spec) + "\n")
    sys.exit(runner.main([]))
