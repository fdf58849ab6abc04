"""Each worker pool process grades on a sandbox slot of its own (its runners' uid is 64000 + slot)."""

from __future__ import annotations

import pytest

from apps.lab.tasks import sandbox_slot
from graders.sandbox import host as host_module
from tests.support.slots import worker_slot


def test_pool_processes_get_distinct_slots_from_an_optional_base(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEMLAB_SANDBOX_SLOT_BASE", raising=False)
    assert [sandbox_slot(i) for i in (None, 0, 1, 2)] == [0, 0, 1, 2]
    monkeypatch.setenv("MEMLAB_SANDBOX_SLOT_BASE", "100")
    assert [sandbox_slot(i) for i in (0, 3)] == [100, 103]


def test_the_default_host_takes_the_slot_it_is_created_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(host_module, "_default", None)  # a private default for this test (nothing is started)
    first = host_module.default_host(slot=5)
    assert first.slot == 5 and host_module.default_host() is first  # later callers share it
    second = host_module.default_host(slot=6)
    assert second is not first and second.slot == 6
    second.close()


def test_gradings_in_this_test_process_use_its_workers_own_slot() -> None:
    """Code that asks for the process-wide host without a slot (eager tasks, services) gets this pytest worker's
    slot, never slot 0 in every worker at once (tests/conftest.py)."""
    assert host_module.default_host().slot == worker_slot()
