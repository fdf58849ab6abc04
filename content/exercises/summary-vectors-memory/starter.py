"""Summary vectors as a recurrence.

Before writing pair i: if the current chunk already holds c pairs, append the mean of its keys to sk and the mean
of its values to sv, and start an empty chunk. Then write (k_i, v_i) into row pos of the chunk and count it.
read(Mem_i, q) = softmax attention over [the summaries; the used rows of the chunk], scaled by 1/sqrt(d).
"""

import torch


def init_memory(d: int, c: int) -> dict[str, torch.Tensor]:
    """The empty memory: no summaries (sk, sv of shape (0, d)), an empty chunk (c zero rows), pos = 0."""
    return {
        "sk": torch.zeros(0, d),
        "sv": torch.zeros(0, d),
        "cur_k": torch.zeros(c, d),
        "cur_v": torch.zeros(c, d),
        "pos": torch.tensor(0.0),
    }


def update(mem: dict[str, torch.Tensor], k: torch.Tensor, v: torch.Tensor, c: int) -> dict[str, torch.Tensor]:
    """Mem_i from Mem_{i-1} = mem and the pair (k, v). Return a new dict with keys sk, sv, cur_k, cur_v and pos."""
    # TODO: summarise a full chunk, then write the pair (this returns the old memory unchanged)
    return {"sk": mem["sk"], "sv": mem["sv"], "cur_k": mem["cur_k"], "cur_v": mem["cur_v"], "pos": mem["pos"]}


def read(mem: dict[str, torch.Tensor], q: torch.Tensor, c: int) -> torch.Tensor:
    """softmax(q · key / sqrt(d)) over every summary and every used row of the chunk, applied to their values."""
    # TODO: attend over the summaries and the used rows; this returns zeros instead
    return torch.zeros_like(q)
