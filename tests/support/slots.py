"""Sandbox slots for test processes. A slot is claimed with a host-wide lock (``graders.sandbox.slots``), so two
graders never share one; what is left to the tests is to ask for slots where nobody else is likely to want them.

- Hosts that ask for no slot (the process-wide host of each test process, the CLI, ``validate``) take the first
  free one from 999 down.
- Hosts a test asks a slot of by number (:func:`worker_slot`): a free slot in this pytest worker's own range,
  500 + 20 × its index.
- Celery workers the tests start (:func:`celery_slot_base`): from 100 + 10 × the pytest worker's index, so that
  two pytest workers' Celery workers, or a developer's ``make run`` (slots 0 and up), never ask for one slot.
- The fault tests' workers: 900..949.
"""

from __future__ import annotations

import os

from graders.sandbox import slots

TEST_SLOT_BASE = 500
SLOTS_PER_TEST_WORKER = 20
CELERY_SLOT_BASE = 100
SLOTS_PER_CELERY_WORKER = 10


def xdist_index() -> int:
    """This pytest worker's index (pytest-xdist names its workers gw0, gw1, ...; 0 without xdist)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    return int(worker) if worker.isdigit() else 0


def worker_slot() -> int:
    """A slot nobody holds now, in this pytest worker's own range: for a host the test then starts at once (the
    host claims it when it spawns its zygote)."""
    first = TEST_SLOT_BASE + SLOTS_PER_TEST_WORKER * xdist_index()
    for slot in range(first, first + SLOTS_PER_TEST_WORKER):
        if slots.is_free(slot):
            return slot
    raise RuntimeError(f"every sandbox slot in {first}..{first + SLOTS_PER_TEST_WORKER - 1} is held")


def celery_slot_base() -> int:
    """``MEMLAB_SANDBOX_SLOT_BASE`` for a Celery worker started by this pytest worker (concurrency up to 10)."""
    return CELERY_SLOT_BASE + SLOTS_PER_CELERY_WORKER * xdist_index()
