"""Fixtures shared by the lab's tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def sent(monkeypatch):  # type: ignore[no-untyped-def]
    """Record what would go to the broker (the integration tests use a real one)."""
    calls: list[tuple[str, list[int], str]] = []
    from config.celery import app

    def send_task(name: str, args: list[int], queue: str, **options: object) -> None:
        # no time limits travel in the message: the worker's own apply (Celery would otherwise copy the sending
        # process's limits for a task it knows into the message, overriding the worker's settings)
        assert options == {"time_limit": None, "soft_time_limit": None}, options
        calls.append((name, args, queue))

    monkeypatch.setattr(app, "send_task", send_task)
    return calls
