import sys

from cpulab.cli import main

sys.exit(main())
