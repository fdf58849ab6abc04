"""Randomized question variants, every answer computed by the reference models (never typed by hand).

Each generator takes a seeded ``random.Random`` and returns ``{"vars": {name: text}, "answer": {...}}``: the
numbers a student sees (filled into ``[[name]]`` placeholders) and the answer key for them. They run when the
course is synced (``manage.py sync_course``), not in the web process: this module imports torch.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import torch

import reference

Variant = dict[str, Any]
N_VARIANTS = 24  # stored per randomized question; a student gets one of them, always the same


def _ints(rng: random.Random, n: int, low: int = -3, high: int = 4) -> list[float]:
    """Small nonzero integers: easy to work with by hand, and no accidental zero pairs."""
    return [float(rng.choice([x for x in range(low, high + 1) if x != 0])) for _ in range(n)]


def _vec(values: list[float]) -> str:
    return "[" + ", ".join(_num(v) for v in values) + "]"


def _num(value: float) -> str:
    text = f"{value:.4g}"
    return "0" if text == "-0" else text


def _t(values: list[float]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def _run(
    model_id: str, d: int, keys: list[list[float]], values: list[list[float]], **hp: Any
) -> dict[str, Any]:
    model = reference.get_model(model_id)
    mem = model.init(d, dtype=torch.float64, **hp)
    for k, v in zip(keys, values, strict=True):
        mem = model.step(mem, _t(k), _t(v), **hp)
    return mem


def cumulative_average_state(rng: random.Random) -> Variant:
    """Mem_2 of the cumulative average after three pairs (the seed's "Calculating a Recurrent Memory State")."""
    keys = [_ints(rng, 2) for _ in range(3)]
    values = [_ints(rng, 2) for _ in range(3)]
    mem = _run("cumulative-average", 2, keys, values)
    names = {f"k{i}": _vec(k) for i, k in enumerate(keys)} | {f"v{i}": _vec(v) for i, v in enumerate(values)}
    mean_k = [round(x, 6) for x in mem["k"].tolist()]
    return {"vars": names | {"answer": _vec(mean_k)}, "answer": {"value": mean_k, "rtol": 1e-3, "atol": 1e-6}}


def cumulative_average_recursive(rng: random.Random) -> Variant:
    """One step of Mem_i = ((k_i, v_i) + i Mem_{i-1}) / (i + 1), from a given previous mean."""
    i = rng.randint(2, 9)
    prev = _ints(rng, 2, -4, 4)
    new = _ints(rng, 2, -6, 6)
    model = reference.get_model("cumulative-average")
    state = {"k": _t(prev), "v": _t(prev), "n": torch.tensor(float(i), dtype=torch.float64)}
    mem = model.step(state, _t(new), _t(new))
    got = [round(x, 6) for x in mem["k"].tolist()]
    names = {"i": str(i), "i_prev": str(i - 1), "prev": _vec(prev), "new": _vec(new), "answer": _vec(got)}
    return {"vars": names, "answer": {"value": got, "rtol": 1e-3, "atol": 1e-6}}


def ema_scalar(rng: random.Random) -> Variant:
    """The EMA of a 1-d stream after three steps, from zero."""
    alpha = rng.choice([0.1, 0.2, 0.25, 0.5])
    xs = _ints(rng, 3, -8, 8)
    mem = _run("ema", 1, [[x] for x in xs], [[x] for x in xs], alpha=alpha)
    value = round(float(mem["v"][0]), 6)
    names = {
        "alpha": _num(alpha),
        "x0": _num(xs[0]),
        "x1": _num(xs[1]),
        "x2": _num(xs[2]),
        "answer": _num(value),
    }
    return {"vars": names, "answer": {"value": value, "rtol": 1e-3, "atol": 1e-6}}


def window_contents(rng: random.Random) -> Variant:
    """Which keys a window of n_c holds after a stream of 1-d keys, oldest first."""
    n_c = rng.choice([2, 3, 4])
    T = n_c + rng.randint(1, 3)
    xs = _ints(rng, T, -9, 9)
    mem = _run("window", 1, [[x] for x in xs], [[x] for x in xs], n_c=n_c)
    kept = [float(x) for x in mem["k"][:, 0].tolist()]
    names = {"n_c": str(n_c), "T": str(T), "last": str(T - 1), "keys": ", ".join(_num(x) for x in xs)}
    names["answer"] = _vec(kept)
    return {"vars": names, "answer": {"value": kept, "rtol": 0.0, "atol": 1e-9}}


def fast_weight_read(rng: random.Random) -> Variant:
    """The read-out M q of the sum-rule memory after two pairs."""
    keys = [_ints(rng, 2, -2, 2) for _ in range(2)]
    values = [_ints(rng, 2, -2, 2) for _ in range(2)]
    q = _ints(rng, 2, -2, 2)
    model = reference.get_model("fast-weight")
    mem = _run("fast-weight", 2, keys, values)
    assert model.read is not None
    y = [round(x, 6) for x in model.read(mem, _t(q)).tolist()]
    M = [[round(x, 6) for x in row] for row in mem["M"].tolist()]
    names = {"k0": _vec(keys[0]), "v0": _vec(values[0]), "k1": _vec(keys[1]), "v1": _vec(values[1])}
    names |= {"q": _vec(q), "answer": _vec(y), "M": "; ".join(_vec(r) for r in M)}
    return {"vars": names, "answer": {"value": y, "rtol": 1e-3, "atol": 1e-6}}


def memory_sizes(rng: random.Random) -> Variant:
    """Numbers a window cache holds against a moving-average cache, from the registry's state layouts."""
    n_c, d = rng.choice([4, 8, 16, 32]), rng.choice([2, 4, 64, 128])
    window = reference.get_model("window").state_shapes(d, n_c=n_c)
    size = sum(int(torch.Size(shape).numel()) for key, shape in window.items() if key in ("k", "v"))
    names = {"n_c": str(n_c), "d": str(d), "answer": str(size), "half": str(size // 2)}
    return {"vars": names, "answer": {"value": float(size), "rtol": 0.0, "atol": 0.5}}


GENERATORS: dict[str, Callable[[random.Random], Variant]] = {
    "cumulative-average-state": cumulative_average_state,
    "cumulative-average-recursive": cumulative_average_recursive,
    "ema-scalar": ema_scalar,
    "window-contents": window_contents,
    "fast-weight-read": fast_weight_read,
    "memory-sizes": memory_sizes,
}


def variants(name: str, *, slug: str, n: int = N_VARIANTS) -> list[Variant]:
    """``n`` variants of generator ``name`` for question ``slug`` (seeded by both: the same at every sync)."""
    return [GENERATORS[name](random.Random(f"{slug}:{name}:{i}")) for i in range(n)]
