"""Submissions used by the tests, as source text. Each is a small variation of the fast-weight solution."""

from __future__ import annotations

import textwrap

FAST_WEIGHT = textwrap.dedent(
    """
    import torch


    def init_memory(d):
        return {"M": torch.zeros(d, d)}


    def update(mem, k, v):
        return {"M": mem["M"] + torch.outer(v, k)}


    def read(mem, q):
        return mem["M"] @ q
    """
)


def fast_weight_with(*, update: str = "", read: str = "", prelude: str = "") -> str:
    """The solution with ``update`` and/or ``read`` bodies replaced, and ``prelude`` at module level."""
    source = FAST_WEIGHT
    if update:
        source = source.replace(
            '    return {"M": mem["M"] + torch.outer(v, k)}\n', textwrap.indent(update, "    ")
        )
    if read:
        source = source.replace('    return mem["M"] @ q\n', textwrap.indent(read, "    "))
    return textwrap.dedent(prelude) + source
