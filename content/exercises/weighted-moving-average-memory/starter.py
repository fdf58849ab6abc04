"""The weighted moving-average cache as a recurrence.

Keep the last n_c pairs in a buffer (oldest row first, newest last, zeros in front while it fills). Row s carries the
weight s + 1, so the newest pair weighs n_c. The means are k̄, v̄ = (sum of weight × row) / (sum of the weights of the
rows that hold a pair), with m_i = min(i + 1, n_c) such rows. read(Mem_i, q) = v̄ (softmax over a single slot).
"""

import torch


def init_memory(d: int, n_c: int) -> dict[str, torch.Tensor]:
    """The empty memory: zero buffers "win_k", "win_v" (n_c, d), "n" = torch.tensor(0.0), zero means "k", "v" (d,)."""
    return {
        "win_k": torch.zeros(n_c, d),
        "win_v": torch.zeros(n_c, d),
        "n": torch.tensor(0.0),
        "k": torch.zeros(d),
        "v": torch.zeros(d),
    }


def update(
    mem: dict[str, torch.Tensor], k: torch.Tensor, v: torch.Tensor, n_c: int
) -> dict[str, torch.Tensor]:
    """Mem_i from Mem_{i-1} = mem and the pair (k, v). Return a new dict with keys win_k, win_v, n, k and v."""
    # TODO: shift the buffers, count the pair, recompute the weighted means (this returns the old memory unchanged)
    return dict(mem)


def read(mem: dict[str, torch.Tensor], q: torch.Tensor, n_c: int) -> torch.Tensor:
    """Softmax attention of q over the single slot (k̄, v̄): a (d,) tensor."""
    # TODO: this returns zeros
    return torch.zeros_like(mem["v"])
