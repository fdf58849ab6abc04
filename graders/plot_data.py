"""Plots as data: what a check's ``plot`` holds in the report (JSON), drawn later by :mod:`graders.plots`.

A plot is a dict ``{"kind", "title", "x_label", "y_label", "log", "series": [{"name", "x", "y", "style"}]}``.
Reports stay small and grading stays fast (no drawing while a student waits); the web page and the CLI draw the
SVG when someone looks. Only visible inputs ever go into a plot.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

Plot = dict[str, Any]


def series(name: str, x: Sequence[float], y: Sequence[float], style: str = "solid") -> dict[str, Any]:
    """One line; non-finite values become None (JSON has no NaN), which the renderer leaves as gaps."""
    return {
        "name": name,
        "x": [float(v) for v in x],
        "y": [float(f"{v:.6g}") if math.isfinite(v) else None for v in y],
        "style": style,
    }


def line_plot(
    kind: str, title: str, x_label: str, y_label: str, lines: list[dict[str, Any]], *, log: bool = False
) -> Plot:
    return {"kind": kind, "title": title, "x_label": x_label, "y_label": y_label, "log": log, "series": lines}


def norms(tensors: Sequence[torch.Tensor]) -> list[float]:
    """‖x‖ (Frobenius) of each tensor, in float64."""
    return [float(torch.linalg.vector_norm(t.detach().to(torch.float64))) for t in tensors]


def trajectory(
    label: str, what: dict[str, tuple[list[torch.Tensor], list[torch.Tensor]]], x_name: str
) -> Plot:
    """Yours against the reference, step by step: ``what[name] = (yours, reference)``, one tensor per step. The
    norms show the scale, the norm of the difference shows where you part ways (a transposed matrix has the
    right norm but not a zero difference)."""
    lines = []
    for name, (mine, ref) in what.items():
        steps = list(range(len(mine)))
        lines.append(series(f"{name}: reference", steps, norms(ref), "dashed"))
        lines.append(series(f"{name}: yours", steps, norms(mine)))
        gaps = [
            a.to(torch.float64) - b.to(torch.float64) if a.shape == b.shape else a.new_full((), math.nan)
            for a, b in zip(mine, ref, strict=True)
        ]
        lines.append(series(f"{name}: yours − reference", steps, norms(gaps), "dotted"))
    title = f"Your values against the reference on {label}"
    return line_plot("trajectory", title, x_name, "norm ‖·‖", lines)


def cost_plot(
    title: str, x_label: str, xs: Sequence[float], measured: dict[str, Sequence[float]], exponent: float
) -> Plot:
    """Measured costs against length on log-log axes, with a line of the declared growth through the first point."""
    lines = [series(name, xs, values) for name, values in measured.items()]
    first = next(iter(measured.values()))
    if first and first[0] > 0:
        guide = [first[0] * (x / xs[0]) ** exponent for x in xs]
        lines.append(series(f"∝ length^{exponent:g} (declared)", xs, guide, "dashed"))
    return line_plot("cost", title, x_label, "cost", lines, log=True)
