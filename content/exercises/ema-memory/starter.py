"""The exponential moving average as a memory.

Mem_{-1} = 0,   Mem_i = alpha * (k_i, v_i) + (1 - alpha) * Mem_{i-1},   read(Mem_i, q) = v̄ (one slot).
"""

import torch


def init_memory(d: int, alpha: float) -> dict[str, torch.Tensor]:
    """The empty memory Mem_{-1}: {"k": zeros (d,), "v": zeros (d,)}."""
    return {"k": torch.zeros(d), "v": torch.zeros(d)}


def update(
    mem: dict[str, torch.Tensor], k: torch.Tensor, v: torch.Tensor, alpha: float
) -> dict[str, torch.Tensor]:
    """Mem_i from Mem_{i-1} = mem and the pair (k, v). Return a new dict with keys k and v."""
    # TODO: mix the new pair into the averages (this returns the old memory unchanged)
    return {"k": mem["k"], "v": mem["v"]}


def read(mem: dict[str, torch.Tensor], q: torch.Tensor, alpha: float) -> torch.Tensor:
    """Softmax attention of q over the single slot (k̄, v̄): a (d,) tensor."""
    # TODO: this returns zeros
    return torch.zeros_like(mem["v"])
