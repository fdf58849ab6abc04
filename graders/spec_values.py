"""The small values an exercise spec is made of, and the interfaces' functions (GRADING.md §1).

Kept apart from :mod:`graders.exercise` (the spec and its files) so that :mod:`graders.spec_fields` (the
validation) can use them without importing the spec back. Which checks an interface may list is the check
registry's to say (:func:`graders.checks.ids_for`).
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
WRONG_FILE = re.compile(r"^[A-Za-z0-9_-]{1,64}\.py$")
SIGNATURES = {  # GRADING.md §1; {p} becomes the exercise's hyper-parameters, if any
    "init_memory": "def init_memory(d{p}) -> dict[str, torch.Tensor]",
    "update": "def update(mem, k, v{p}) -> dict[str, torch.Tensor]",
    "read": "def read(mem, q{p}) -> torch.Tensor",
    "attend": "def attend(Q, K, V{p}) -> torch.Tensor",
}
FUNCTIONS = {  # interface -> (the functions it requires, those it may add)
    "recurrent": (("init_memory", "update"), ("read",)),
    "sequence": (("attend",), ()),
}


@dataclass(frozen=True)
class Tolerance:
    """A state or read-out ``x`` matches the reference ``r`` iff ``‖x − r‖ ≤ atol + rtol·‖r‖`` (NaN never does)."""

    rtol: float = 1e-5
    atol: float = 1e-6


@dataclass(frozen=True)
class CheckSpec:
    id: str
    points: float


@dataclass(frozen=True)
class WrongVariant:
    """A known-wrong solution in ``wrong/<file>`` that must fail the check ``fails``."""

    file: str
    fails: str
    why: str = ""
    source: str = ""


def default_seed(slug: str) -> int:
    """A stable seed per exercise, so a student sees the same cases on every attempt."""
    return zlib.crc32(slug.encode("utf-8"))
