"""Fixtures for the grading engine's tests: one zygote for the whole session, the two exercises."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

import graders
from graders.exercise import ExerciseSpec, Limits
from graders.sandbox.host import ZygoteHost, default_host, shutdown
from tests.support.slots import worker_slot


@pytest.fixture(scope="session")
def sandbox() -> Iterator[ZygoteHost]:
    """The process-wide zygote, started once; every in-process grading test shares it (on this worker's slot)."""
    host = default_host(slot=worker_slot())
    host.start()
    yield host
    shutdown()


@pytest.fixture(scope="session")
def fast_weight() -> ExerciseSpec:
    return graders.load_exercise("fast-weight-memory")


@pytest.fixture(scope="session")
def cumulative() -> ExerciseSpec:
    return graders.load_exercise("cumulative-average-memory")


@pytest.fixture(scope="session")
def quick(fast_weight: ExerciseSpec) -> ExerciseSpec:
    """The fast-weight exercise with 1 s limits, for the tests that hit them."""
    return dataclasses.replace(fast_weight, limits=Limits(wall_s=2.0, cpu_s=1, memory_mb=256))
