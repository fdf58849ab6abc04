"""Sizes of a growing memory (full KV cache, summary vectors) at each step, read off the reference model.

A growing layout names its lengths with symbols of its own (``t`` rows of a cache, ``s`` summaries). Their values
after step i depend only on how many pairs were written, not on their values, so they are found once per
(model, hyper-parameters, d) by stepping the reference on zeros, and kept.
"""

from __future__ import annotations

import threading

import torch

import reference
from graders.exercise import ExerciseSpec

_Key = tuple[str, tuple[tuple[str, int | float], ...], int]
# per key: the reference memory reached so far, and the growing sizes after init (index 0) and each step i (i + 1)
_cache: dict[_Key, tuple[dict[str, torch.Tensor], list[dict[str, int]]]] = {}
_lock = threading.Lock()


def sizes_at(spec: ExerciseSpec, d: int, step: int | None) -> dict[str, int]:
    """The growing sizes of ``spec``'s memory after ``step`` (``None``: the empty memory of ``init_memory``)."""
    model = reference.get_model(spec.model)
    key = (spec.model, tuple(sorted(spec.params.items())), d)
    wanted = 0 if step is None else step + 1
    with _lock:
        if key not in _cache:
            mem = model.init(d, dtype=torch.float64, **spec.params)
            _cache[key] = (mem, [_read(spec, mem)])
        mem, sizes = _cache[key]
        zero = torch.zeros(d, dtype=torch.float64)
        while len(sizes) <= wanted:
            mem = model.step(mem, zero, zero, **spec.params)
            sizes.append(_read(spec, mem))
        _cache[key] = (mem, sizes)
        return dict(sizes[wanted])


def _read(spec: ExerciseSpec, mem: dict[str, torch.Tensor]) -> dict[str, int]:
    found: dict[str, int] = {}
    for name, symbols in spec.state.items():
        for symbol, size in zip(symbols, mem[name].shape, strict=True):
            if symbol in spec.growing:
                found[symbol] = int(size)
    return found
