import sys

from cpulab.startup import main

sys.exit(main())
