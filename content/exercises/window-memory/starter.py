"""The window cache as a recurrence.

Mem_i = the last n_c pairs, oldest row first, newest in the last row (zeros in front while fewer than n_c are seen);
n = min(i + 1, n_c); read(Mem_i, q) = softmax attention over the n real rows.
"""

import torch


def init_memory(d: int, n_c: int) -> dict[str, torch.Tensor]:
    """The empty memory: {"k": zeros (n_c, d), "v": zeros (n_c, d), "n": torch.tensor(0.0)}."""
    return {"k": torch.zeros(n_c, d), "v": torch.zeros(n_c, d), "n": torch.tensor(0.0)}


def update(
    mem: dict[str, torch.Tensor], k: torch.Tensor, v: torch.Tensor, n_c: int
) -> dict[str, torch.Tensor]:
    """Mem_i from Mem_{i-1} = mem and the pair (k, v): drop the oldest row, append the new pair as the last row,
    count it. Return a new dict with keys k, v and n."""
    # TODO: shift the window and update the count (this returns the old memory unchanged)
    return {"k": mem["k"], "v": mem["v"], "n": mem["n"]}


def read(mem: dict[str, torch.Tensor], q: torch.Tensor, n_c: int) -> torch.Tensor:
    """softmax(q · k_j / sqrt(d)) over the n real rows j, applied to their values: a (d,) tensor."""
    # TODO: mask the empty rows in front; this returns the mean of all rows instead
    return mem["v"].mean(dim=0)
