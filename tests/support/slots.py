"""Sandbox slots for test processes: each pytest worker its own, so that no two run jobs as the same uid.

The fallback sweeps its slot's uid after every job (``kill(-1)`` as that uid), so two test processes sharing a
slot would kill each other's runners. Slots in use elsewhere: Celery workers from 0, fault tests 900-949,
benchmarks from 980.
"""

from __future__ import annotations

import os

TEST_SLOT_BASE = 500


def worker_slot() -> int:
    """This pytest worker's own sandbox slot (pytest-xdist names its workers gw0, gw1, ...)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    return TEST_SLOT_BASE + (int(worker) if worker.isdigit() else 0)
