"""`make bench`: run every benchmark in this folder; each prints a table and saves JSON under results/.

``python -m benchmarks`` runs them all; ``python -m benchmarks reference`` (or ``grading``) runs one, and any
further arguments go to it (``python -m benchmarks reference --quick``). Each runs in a fresh interpreter of its
own, so that one benchmark's processes, threads and allocations cannot skew the next one's timings. ``e2e``
measures the production topology (PostgreSQL + Redis) and the embedded one (what `make run` starts) side by side;
``python -m benchmarks e2e --topology embedded`` measures one.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from benchmarks._stack import run_child

BENCHMARKS = ("grading", "reference", "e2e", "web_load")
REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if argv and argv[0] not in BENCHMARKS:
        print(f"unknown benchmark {argv[0]!r}; known: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    runs = [(argv[0], argv[1:])] if argv else [(name, []) for name in BENCHMARKS]
    failed = []
    for name, args in runs:
        print(f"== benchmarks.{name} ==", flush=True)
        code = run_child([sys.executable, "-m", f"benchmarks.{name}", *args], cwd=REPO)
        if code in (130, -signal.SIGINT):  # Ctrl-C: it has stopped what it started; run nothing more
            print("interrupted", file=sys.stderr)
            return 130
        if code:
            failed.append(f"{name} (exit {code})")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
