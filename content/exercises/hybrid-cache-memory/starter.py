"""The hybrid cache (a local window plus a compressed memory) as a recurrence.

Mem keeps the newest raw pairs (at most n_m, right-aligned, oldest row first). When a pair arrives and Mem is full,
the c oldest pairs leave Mem, their mean (over time) becomes one compressed pair, and that pair joins the end of
CMem (n_cm rows, right-aligned, its oldest row dropped). Then the new pair joins the end of Mem.
read(Mem_i, q) = one softmax attention over the valid rows of [CMem; Mem].
"""

import torch


def init_memory(d: int, n_m: int, c: int, n_cm: int) -> dict[str, torch.Tensor]:
    """The empty memory: zero "k", "v" (n_m, d), "n" = 0.0, zero "ck", "cv" (n_cm, d), "cn" = 0.0."""
    return {
        "k": torch.zeros(n_m, d),
        "v": torch.zeros(n_m, d),
        "n": torch.tensor(0.0),
        "ck": torch.zeros(n_cm, d),
        "cv": torch.zeros(n_cm, d),
        "cn": torch.tensor(0.0),
    }


def update(
    mem: dict[str, torch.Tensor], k: torch.Tensor, v: torch.Tensor, n_m: int, c: int, n_cm: int
) -> dict[str, torch.Tensor]:
    """Mem_i from Mem_{i-1} = mem and the pair (k, v): evict and compress if Mem is full, then append.
    Return a new dict with the same six keys."""
    # TODO: this appends the pair to Mem but never compresses and never counts
    return {
        "k": torch.cat([mem["k"][1:], k[None]]),
        "v": torch.cat([mem["v"][1:], v[None]]),
        "n": mem["n"],
        "ck": mem["ck"],
        "cv": mem["cv"],
        "cn": mem["cn"],
    }


def read(mem: dict[str, torch.Tensor], q: torch.Tensor, n_m: int, c: int, n_cm: int) -> torch.Tensor:
    """softmax(q · k_j / sqrt(d)) over the valid rows j of [CMem; Mem], applied to their values: a (d,) tensor."""
    # TODO: this reads the local memory only, empty rows included
    return torch.softmax(mem["k"] @ q / q.shape[0] ** 0.5, dim=0) @ mem["v"]
