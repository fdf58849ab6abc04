"""Segment-level recurrence as a recurrence (reference solution, never shown to students)."""

import torch


def init_memory(d, L, m):
    # Mem_{-1}: no segment in the memory, an empty current segment
    return {
        "mem_k": torch.zeros(m, L, d),
        "mem_v": torch.zeros(m, L, d),
        "cur_k": torch.zeros(L, d),
        "cur_v": torch.zeros(L, d),
        "mem_n": torch.tensor(0.0),
        "pos": torch.tensor(0.0),
    }


def update(mem, k, v, L, m):
    mem_k, mem_v, cur_k, cur_v = mem["mem_k"], mem["mem_v"], mem["cur_k"], mem["cur_v"]
    mem_n, pos = mem["mem_n"], mem["pos"]
    if pos == L:
        # the current segment is complete and this pair starts the next one: Mem = FIFO(segment, Mem_pre),
        # the segment joins at the end and the oldest one (row 0) falls out
        mem_k = torch.cat([mem_k[1:], cur_k[None]])  # (m, L, d)
        mem_v = torch.cat([mem_v[1:], cur_v[None]])  # (m, L, d)
        mem_n = torch.clamp(mem_n + 1, max=m)  # ()
        # the new segment starts empty
        cur_k, cur_v, pos = torch.zeros_like(cur_k), torch.zeros_like(cur_v), torch.zeros_like(pos)
    # cur[pos] = (k_i, v_i)
    slot = (torch.arange(L) == pos)[:, None]  # (L, 1)
    cur_k = torch.where(slot, k, cur_k)  # (L, d)
    cur_v = torch.where(slot, v, cur_v)  # (L, d)
    return {"mem_k": mem_k, "mem_v": mem_v, "cur_k": cur_k, "cur_v": cur_v, "mem_n": mem_n, "pos": pos + 1}


def read(mem, q, L, m):
    # one softmax over the rows that hold a pair: the last mem_n segments of the memory and cur[:pos]
    keys = torch.cat([mem["mem_k"].reshape(m * L, -1), mem["cur_k"]])  # ((m + 1) L, d)
    values = torch.cat([mem["mem_v"].reshape(m * L, -1), mem["cur_v"]])  # ((m + 1) L, d)
    row = torch.arange((m + 1) * L)  # ((m + 1) L,)
    in_memory = (row < m * L) & (row // L >= m - mem["mem_n"])
    in_segment = (row >= m * L) & (row - m * L < mem["pos"])
    # y = softmax(K q / sqrt(d)) V over those rows
    scores = (keys @ q / q.shape[0] ** 0.5).masked_fill(~(in_memory | in_segment), float("-inf"))
    return torch.softmax(scores, dim=0) @ values  # (d,)
