"""The grading benchmark's floor measure: the CPU of an empty sandbox job, read from /proc. No timing targets."""

from __future__ import annotations

from benchmarks.grading import empty_job_cpu
from tests.support.slots import worker_slot


def test_an_empty_job_is_measured_from_proc() -> None:
    measured = empty_job_cpu(5, slot=worker_slot())
    assert measured["n"] == 5
    # three forks of a process holding torch cannot be free, and a job is not a second of CPU
    assert 0 < measured["cpu_s"] < 1 and 0 < measured["wall_s"] < 5, measured
