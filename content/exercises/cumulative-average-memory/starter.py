"""The cumulative average as a memory.

Mem_i = ((k_i, v_i) + i * Mem_{i-1}) / (i + 1), with i counted from 0 and n = the number of pairs seen.
"""

import torch


def init_memory(d: int) -> dict[str, torch.Tensor]:
    """The empty memory: {"k": zeros (d,), "v": zeros (d,), "n": torch.tensor(0.0)}."""
    raise NotImplementedError("TODO: return the empty memory")


def update(mem: dict[str, torch.Tensor], k: torch.Tensor, v: torch.Tensor) -> dict[str, torch.Tensor]:
    """Mem_i from Mem_{i-1} = mem and the pair (k, v); return a new dict with keys k, v and n."""
    raise NotImplementedError("TODO: update the running means and the count")
