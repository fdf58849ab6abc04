"""Shared by the check families: tolerant comparison and numbers printed for students."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from graders.checks.api import Part
from graders.exercise import Tolerance
from graders.plan import Plan

Value = float | list["Value"]


@dataclass(frozen=True)
class Comparison:
    ok: bool
    relative_error: float  # ‖got − expected‖ / max(‖expected‖, floor(tol)); inf/nan when it cannot match


def floor(tol: Tolerance) -> float:
    """The norm below which errors are measured against this floor instead of ‖expected‖: ``atol / rtol``, where
    the bound ``atol + rtol·‖expected‖`` is mostly ``atol``. A reference that is nearly zero (1e-17 after a
    cancellation) would otherwise turn float32 rounding into a "relative error" of 1e9 on a correct answer. With
    it, a match has a relative error of at most 2·rtol."""
    return tol.atol / tol.rtol if tol.rtol > 0 else 1e-300


def compare(got: torch.Tensor, expected: torch.Tensor, tol: Tolerance) -> Comparison:
    """Norm-relative comparison in float64; written as ``not (err <= bound)`` so that NaN never passes."""
    a = got.detach().to(torch.float64)
    b = expected.detach().to(torch.float64)
    if a.shape != b.shape:
        return Comparison(False, float("inf"))
    err = float(torch.linalg.vector_norm(a - b))
    scale = float(torch.linalg.vector_norm(b))
    bound = tol.atol + tol.rtol * scale
    relative = err / max(scale, floor(tol))
    failed = not (err <= bound)  # NaN compares false, so a NaN error fails
    return Comparison(not failed, relative)


def compare_steps(
    got: list[torch.Tensor], expected: list[torch.Tensor], tol: Tolerance
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """:func:`compare` at every step at once: ``(ok, relative_error)``, each ``(T,)``, or None when the steps
    cannot be stacked (their shapes differ from step to step, as a growing cache's do; compare them one by one).

    One grading compares hundreds of small tensors; a call per pair cost ~40 µs of Python and dispatch, this is a
    few calls per trajectory. The norms are the same sums per step, in float64.
    """
    if not got or len(got) != len(expected):
        return None
    shape = got[0].shape
    if any(g.shape != shape for g in got) or any(e.shape != shape for e in expected):
        return None
    steps, size = len(got), shape.numel()
    a = torch.stack([g.detach() for g in got]).to(torch.float64).reshape(steps, size)  # (T, size)
    b = torch.stack([e.detach() for e in expected]).to(torch.float64).reshape(steps, size)  # (T, size)
    err = torch.linalg.vector_norm(a - b, dim=1)  # (T,): ‖got_t − expected_t‖
    scale = torch.linalg.vector_norm(b, dim=1)  # (T,): ‖expected_t‖
    ok = err <= tol.atol + tol.rtol * scale  # NaN compares false, so a NaN error fails
    return ok, err / scale.clamp(min=floor(tol))


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


def answer_parts(shown: Plan, secret: Plan, probe_end: int) -> list[Part]:
    """correctness's two jobs, visible then hidden cases. The import and the visible ops before ``probe_end`` (the
    first, smallest case) probe the interface and are blamed on it, as is a malformed return anywhere; a failure
    later is correctness's. The hidden job's output, times and sizes are never shown."""

    def visible(op: int | None) -> str:
        return "interface" if op is None or op < probe_end else "correctness"

    return [
        Part("visible", shown, blame=visible, schema_blame="interface"),
        Part("hidden", secret, blame=lambda op: "correctness", schema_blame="interface", shown=False),
    ]
