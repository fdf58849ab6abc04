"""Small tensor helpers shared by the reference tests: seeded inputs, norm-relative closeness, a plain softmax read."""

from __future__ import annotations

import math

import torch

Pair = tuple[list[float], list[float]]


def assert_close(actual: torch.Tensor, expected: torch.Tensor, rel: float = 1e-9) -> None:
    """Same shape and dtype, and max |actual − expected| <= rel · (1 + max |expected|) (empty tensors agree)."""
    assert actual.shape == expected.shape and actual.dtype == expected.dtype, (
        (actual.shape, actual.dtype),
        (expected.shape, expected.dtype),
    )
    if expected.numel() == 0:
        return
    err = (actual - expected).abs().max().item()
    scale = 1.0 + expected.abs().max().item()
    assert err <= rel * scale, f"max abs error {err:.3e} > {rel:.0e} * {scale:.3e}"


def randn_seq(seed: int, T: int, D: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Q, K, V: three seeded float64 ``(T, D)`` sequences."""
    g = torch.Generator().manual_seed(seed)
    Q, K, V = (torch.randn(T, D, generator=g, dtype=torch.float64) for _ in range(3))
    return Q, K, V


def softmax_read(q: list[float], pairs: list[Pair]) -> list[float]:
    """softmax(q · k / √d) over the (key, value) pairs, weighted sum of the values, in plain Python."""
    scores = [sum(a * b for a, b in zip(q, k, strict=True)) / math.sqrt(len(q)) for k, _ in pairs]
    top = max(scores)
    w = [math.exp(s - top) for s in scores]
    return [
        sum(wi * v[j] for wi, (_, v) in zip(w, pairs, strict=True)) / sum(w) for j in range(len(pairs[0][1]))
    ]
