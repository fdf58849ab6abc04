r"""Summary vectors: every finished chunk of c pairs is replaced by one summary pair (a growing, c× smaller cache).

Idea: cut the stream into chunks of c tokens. While a chunk is being written its pairs stay raw; once it is
complete it is replaced by a single summary pair, the mean of its keys and the mean of its values. The memory is
all the summaries so far plus the raw pairs of the current chunk: it still grows with the stream, but c times more
slowly than the full KV cache. Attention sees distant context only through the chunk means.

Update for token i (0-based), summarising lazily (at the first token of the next chunk):

    if the current chunk holds c pairs:   S = [S; (mean_j k_j, mean_j v_j) over the chunk],   chunk = [];
    chunk = [chunk; (k_i, v_i)].

So after token i the memory holds ⌊i/c⌋ summaries (the chunks before i's chunk) and the i mod c + 1 raw pairs of
i's own chunk; the last token of a chunk still reads its chunk raw, and the next token reads it as a summary. The
read-out is one softmax, scale 1/√d, over [summaries; raw pairs of the current chunk]. T need not be a multiple of
c: the last chunk simply stays raw.

State (after the batch dims): ``sk, sv: (s, d)`` the summaries, oldest first (s grows by one per finished chunk);
``cur_k, cur_v: (c, d)`` the current chunk filled left to right (the first ``pos`` rows are valid, the rest zero);
``pos: ()`` in the state's float dtype. Mem_{-1} has s = 0 and pos = 0. Because s is a shape, growing it is a
host-side decision: ``step`` reads ``pos == c`` once (one device sync on CUDA) and needs every batch element at the
same position in its chunk, as in any batch stepped together (``ValueError`` otherwise).

Cost: O((i/c + c) d) per step, O(n^2 d / c) in total, O((n/c + c) d) memory.

Sources: Xiao & Zhu, "Foundations of Large Language Models", ch. 2 (summary vectors, compressing a segment into a
few vectors); the mean-pooling compression of Rae et al., "Compressive Transformers", ICLR 2020 (arXiv 1911.05507).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F

from reference.kernels import n_blocks, query_blocks
from reference.registry import HyperParam, ModelSpec, State, batch_shape, check_sequences, register


def summary_vectors_init(
    d: int,
    *,
    batch: Sequence[int] = (),
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    d_v: int | None = None,
    c: int = 4,
) -> State:
    """Mem_{-1}: no summaries (0 rows) and an empty current chunk (c zero rows, pos = 0)."""
    batch = tuple(batch)
    d_v = d if d_v is None else d_v

    def zeros(*shape: int) -> torch.Tensor:
        return torch.zeros((*batch, *shape), dtype=dtype, device=device)

    return {
        "sk": zeros(0, d),  # (*batch, 0, d)
        "sv": zeros(0, d_v),  # (*batch, 0, d_v)
        "cur_k": zeros(c, d),  # (*batch, c, d)
        "cur_v": zeros(c, d_v),  # (*batch, c, d_v)
        "pos": zeros(),  # (*batch,): raw pairs in the current chunk
    }


def summary_vectors_step(mem: State, k: torch.Tensor, v: torch.Tensor, *, c: int = 4) -> State:
    """Mem_i from Mem_{i-1} and (k_i, v_i): summarise a full chunk first, then write the pair raw."""
    dtype = torch.promote_types(mem["sk"].dtype, torch.promote_types(k.dtype, v.dtype))
    batch = batch_shape(mem["pos"].shape, k.shape[:-1], v.shape[:-1])
    sk, sv, ck, cv = (mem[x].to(dtype).expand(*batch, -1, -1) for x in ("sk", "sv", "cur_k", "cur_v"))
    pos = mem["pos"].to(dtype).expand(batch)  # (*batch,)
    # the memory grows by one row for the whole batch, so the batch must agree: one host read decides
    full = pos == c  # (*batch,)
    any_full, all_full = torch.stack([full.any(), full.all()]).tolist()
    if full.numel() and any_full != all_full:
        raise ValueError("summary vectors: every batch element must be at the same position in its chunk")
    if any_full:
        # S = [S; mean of the chunk's keys / values over time], then a new chunk starts empty
        sk = torch.cat([sk, ck.mean(dim=-2, keepdim=True)], dim=-2)  # (*batch, s + 1, d)
        sv = torch.cat([sv, cv.mean(dim=-2, keepdim=True)], dim=-2)  # (*batch, s + 1, d_v)
        ck, cv, pos = torch.zeros_like(ck), torch.zeros_like(cv), torch.zeros_like(pos)
    # cur[pos] = (k_i, v_i)
    slot = (torch.arange(c, device=pos.device) == pos[..., None])[..., None]  # (*batch, c, 1)
    ck = torch.where(slot, k.to(dtype).unsqueeze(-2), ck)  # (*batch, c, d)
    cv = torch.where(slot, v.to(dtype).unsqueeze(-2), cv)  # (*batch, c, d_v)
    return {"sk": sk.contiguous(), "sv": sv.contiguous(), "cur_k": ck, "cur_v": cv, "pos": pos + 1}


def summary_vectors_read(mem: State, q: torch.Tensor, *, c: int = 4) -> torch.Tensor:
    """One softmax(q Kᵀ/√d) V over [summaries; cur[:pos]]; ``q: (*batch, d)`` -> ``(*batch, d_v)``.

    Reading Mem_{-1} (nothing visible) returns zeros.
    """
    dtype = torch.promote_types(mem["sk"].dtype, q.dtype)
    s = mem["sk"].shape[-2]
    keys = torch.cat([mem["sk"], mem["cur_k"]], dim=-2).to(dtype)  # (*batch, s + c, d)
    values = torch.cat([mem["sv"], mem["cur_v"]], dim=-2).to(dtype)  # (*batch, s + c, d_v)
    # every summary is valid; current row r is valid if r < pos
    row = torch.arange(s + c, device=q.device)  # (s + c,)
    valid = (row < s) | (row - s < mem["pos"][..., None])  # (*batch, s + c)
    # s_j = q · k_j / √d, -inf where hidden
    scores = (keys @ q.to(dtype).unsqueeze(-1)).squeeze(-1) * q.shape[-1] ** -0.5  # (*batch, s + c)
    weights = torch.softmax(scores.masked_fill(~valid, float("-inf")), dim=-1)  # (*batch, s + c)
    weights = torch.where(valid.any(dim=-1, keepdim=True), weights, 0.0)  # nothing visible -> zero weights
    return (weights.unsqueeze(-2) @ values).squeeze(-2)  # (*batch, d_v)


def summary_vectors_scan(K: torch.Tensor, V: torch.Tensor, *, c: int = 4) -> State:
    """The specification: ``step`` over t = 0..T-1; a growing memory, so only the final state is returned."""
    dtype = check_sequences(K, V)
    *batch, T, D = K.shape
    mem = summary_vectors_init(D, batch=batch, dtype=dtype, device=K.device, d_v=V.shape[-1], c=c)
    for t in range(T):
        mem = summary_vectors_step(mem, K[..., t, :], V[..., t, :], c=c)
    return mem  # sk: (*batch, ⌊(T-1)/c⌋, D), cur_k: (*batch, c, D), pos: (*batch,)


def summary_vectors_parallel(K: torch.Tensor, V: torch.Tensor, *, c: int = 4) -> State:
    """The final state without the loop: chunk means of every chunk but the last, which stays raw."""
    dtype = check_sequences(K, V)
    *batch, T, _ = K.shape
    s = (T - 1) // c if T else 0  # chunks summarised before the last token's chunk

    def chunk_means(X: torch.Tensor) -> torch.Tensor:
        head = X[..., : s * c, :].to(dtype)  # (*batch, s·c, D)
        return head.reshape(*batch, s, c, X.shape[-1]).mean(dim=-2)  # (*batch, s, D)

    def last_chunk(X: torch.Tensor) -> torch.Tensor:
        return F.pad(X[..., s * c :, :].to(dtype), (0, 0, 0, c - (T - s * c)))  # (*batch, c, D), zero-padded

    return {
        "sk": chunk_means(K),  # (*batch, s, D)
        "sv": chunk_means(V),  # (*batch, s, D_v)
        "cur_k": last_chunk(K),  # (*batch, c, D)
        "cur_v": last_chunk(V),  # (*batch, c, D_v)
        "pos": torch.full(batch, T - s * c, dtype=dtype, device=K.device),  # (*batch,)
    }


def summary_vectors_attend_parallel(
    Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, *, c: int = 4, group: int | None = None
) -> torch.Tensor:
    """Every read-out: query i in chunk b sees the summaries of chunks 0..b-1 and the raw keys of b up to i.

    Query chunks are processed ``group`` at a time (default: about 2048 queries), so the summary scores of one
    group, (group·c) × (summaries before the group's end), bound the memory instead of the whole (T × T/c) matrix.
    The two parts share one softmax, over their scores side by side. Returns ``(*batch, T, D_v)``.
    """
    dtype = torch.promote_types(check_sequences(K, V), check_sequences(Q, V))
    T, D = Q.shape[-2], Q.shape[-1]
    if T == 0:
        return V.to(dtype).clone()  # (*batch, 0, D_v)
    qb = query_blocks(Q.to(dtype), block=c) * D**-0.5  # (*batch, nb, c, D), scaled by 1/√d once
    kb, vb = query_blocks(K.to(dtype), block=c), query_blocks(V.to(dtype), block=c)  # (*batch, nb, c, D)
    nb = n_blocks(T, c)
    # the summaries (mean of each chunk); the padded last chunk's mean is never seen: no query comes after it
    sk, sv = kb.mean(dim=-2), vb.mean(dim=-2)  # (*batch, nb, D), (*batch, nb, D_v)
    causal = torch.ones(c, c, dtype=torch.bool, device=Q.device).tril()  # (c, c)
    group = max(1, 2048 // c) if group is None else group
    outs: list[torch.Tensor] = []
    for start in range(0, nb, group):  # O(T / (group·c)) iterations of vectorised work
        stop = min(start + group, nb)
        G = stop - start  # chunks in this group
        q, k, v = qb[..., start:stop, :, :], kb[..., start:stop, :, :], vb[..., start:stop, :, :]
        # summaries: s_ib = q_i · k̄_b / √d for the chunks b before the query's chunk (one matmul for the group)
        summ = (q.flatten(-3, -2) @ sk[..., :stop, :].transpose(-1, -2)).unflatten(-2, (G, c))
        # every chunk of the group sees the summaries before the group; of the group's own, only earlier ones
        later = torch.ones(G, G, dtype=torch.bool, device=Q.device).triu()  # (G, G): summary b' >= chunk b
        summ[..., start:stop].masked_fill_(later[:, None, :], float("-inf"))  # (*batch, G, c, stop)
        # inside the chunk: s_ij = q_i · k_j / √d for j <= i
        local = (q @ k.transpose(-1, -2)).masked_fill_(~causal, float("-inf"))  # (*batch, G, c, c)
        # one softmax over both parts side by side (torch's fused softmax: faster here than its exp alone)
        p = torch.softmax(torch.cat([summ, local], dim=-1), dim=-1)  # (*batch, G, c, stop + c)
        # (*batch, G, c, D_v)
        out = (p[..., :stop].flatten(-3, -2) @ sv[..., :stop, :]).reshape(q.shape[:-1] + sv.shape[-1:])
        outs.append(out.add_(p[..., stop:] @ v))  # (*batch, G, c, D_v)
    return torch.cat(outs, dim=-3).flatten(-3, -2)[..., :T, :]  # (*batch, T, D_v)


def _attend_cost(T: int, d: int, hp: Mapping[str, int | float]) -> tuple[float, float]:
    """Chunk part 2·2·T·c·d; summary part 2·2·d per (query, summary) pair computed, about T·(T/c)/2 plus the
    waste of whole groups (each group scores every summary up to its end)."""
    c = int(hp.get("c", 4))
    nb, group = -(-T // c), max(1, 2048 // c)
    pairs = sum(min(g + group, nb) * min(group, nb - g) * c for g in range(0, nb, group))
    return 4.0 * T * c * d + 4.0 * pairs * d, 4.0 * 4 * T * d  # read Q, K, V and write Y once, float32


SPEC = register(
    ModelSpec(
        id="summary-vectors",
        title="Summary vectors (chunk means, a growing c× smaller cache)",
        hyperparams={"c": HyperParam("int", 1, 4096, 4)},
        state_layout={
            "sk": ("s", "d"),
            "sv": ("s", "d"),
            "cur_k": ("c", "d"),
            "cur_v": ("c", "d"),
            "pos": (),
        },
        fixed_size=False,
        cost_per_step="O((i/c + c) d)",
        cost_total="O(n^2 d / c)",
        init=summary_vectors_init,
        step=summary_vectors_step,
        read=summary_vectors_read,
        scan=summary_vectors_scan,
        parallel=summary_vectors_parallel,
        attend_parallel=summary_vectors_attend_parallel,
        parallel_form="chunked attention over chunk means",
        parallel_cost=_attend_cost,
        paper="Xiao & Zhu 2025, ch. 2",
    )
)
