"""Segment-level recurrence (Transformer-XL's memory) as a recurrence.

The stream is cut into segments of L pairs. The memory keeps the m previous complete segments (FIFO, oldest first,
right-aligned) and the current segment (filled from row 0). A complete segment moves into the memory when the first
pair of the next segment arrives. read(Mem_i, q) = softmax attention over the memory's segments and cur[:pos].
"""

import torch


def init_memory(d: int, L: int, m: int) -> dict[str, torch.Tensor]:
    """The empty memory: zero "mem_k", "mem_v" (m, L, d), zero "cur_k", "cur_v" (L, d), "mem_n" = "pos" = 0.0."""
    return {
        "mem_k": torch.zeros(m, L, d),
        "mem_v": torch.zeros(m, L, d),
        "cur_k": torch.zeros(L, d),
        "cur_v": torch.zeros(L, d),
        "mem_n": torch.tensor(0.0),
        "pos": torch.tensor(0.0),
    }


def update(
    mem: dict[str, torch.Tensor], k: torch.Tensor, v: torch.Tensor, L: int, m: int
) -> dict[str, torch.Tensor]:
    """Mem_i from Mem_{i-1} = mem and the pair (k, v): push a complete segment first, then write the pair into
    the current segment. Return a new dict with the same six keys."""
    # TODO: this returns the old memory unchanged
    return dict(mem)


def read(mem: dict[str, torch.Tensor], q: torch.Tensor, L: int, m: int) -> torch.Tensor:
    """softmax(q · k_j / sqrt(d)) over the rows j that hold a pair, applied to their values: a (d,) tensor."""
    # TODO: this returns the mean of the current segment's rows, empty ones included
    return mem["cur_v"].mean(dim=0)
