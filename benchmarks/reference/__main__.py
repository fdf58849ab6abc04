"""``python -m benchmarks.reference``: see the package docstring."""

import os
import sys

from benchmarks.reference.cli import main

if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)  # skip torch's slow teardown
