"""The limits of one sandbox run: what a job may spend, and the most an exercise may ask for."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Per sandbox run (one grading makes a few runs). Defaults apply to missing fields; maxima are enforced."""

    wall_s: float = 10.0
    cpu_s: int = 5
    memory_mb: int = 512


LIMIT_MAXIMA = {"wall_s": 60.0, "cpu_s": 30, "memory_mb": 4096}
