"""Shared by the check families: tolerant comparison and numbers printed for students."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from graders.exercise import Tolerance

Value = float | list["Value"]


@dataclass(frozen=True)
class Comparison:
    ok: bool
    relative_error: float  # ‖got − expected‖ / max(‖expected‖, tiny); inf/nan when it cannot match


def compare(got: torch.Tensor, expected: torch.Tensor, tol: Tolerance) -> Comparison:
    """Norm-relative comparison in float64; written as ``not (err <= bound)`` so that NaN never passes."""
    a = got.detach().to(torch.float64)
    b = expected.detach().to(torch.float64)
    if a.shape != b.shape:
        return Comparison(False, float("inf"))
    err = float(torch.linalg.vector_norm(a - b))
    scale = float(torch.linalg.vector_norm(b))
    bound = tol.atol + tol.rtol * scale
    relative = err / max(scale, 1e-300)
    failed = not (err <= bound)  # NaN compares false, so a NaN error fails
    return Comparison(not failed, relative)


def to_list(t: torch.Tensor) -> Value:
    """Nested lists of floats rounded to 4 significant digits (for JSON counterexamples)."""
    values = t.detach().to(torch.float64).tolist()
    return _round(values)


def _round(value: object) -> Value:
    if isinstance(value, list):
        return [_round(v) for v in value]
    assert isinstance(value, float | int)
    return float(f"{value:.4g}")


def fmt(t: torch.Tensor) -> str:
    """A tensor as a student would write it: ``[1, 2.5]``, ``[[1, 0], [0, 1]]``, ``3``; 4 significant digits."""
    return _fmt(t.detach().to(torch.float64).tolist())


def _fmt(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    assert isinstance(value, float | int)
    text = f"{value:.4g}"
    return "0" if text == "-0" else text
