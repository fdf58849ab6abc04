"""Randomized question variants, every answer computed by the reference models (never typed by hand).

Each generator takes a seeded ``random.Random`` and returns ``{"vars": {name: text}, "answer": {...}}``: the
numbers a student sees (filled into ``[[name]]`` placeholders) and the answer key for them. They run when the
course is synced (``manage.py sync_course``), not in the web process: this module imports torch.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import torch

import reference

Variant = dict[str, Any]
N_VARIANTS = 24  # stored per randomized question; a student gets one of them, always the same


def _ints(rng: random.Random, n: int, low: int = -3, high: int = 4) -> list[float]:
    """Small nonzero integers: easy to work with by hand, and no accidental zero pairs."""
    return [float(rng.choice([x for x in range(low, high + 1) if x != 0])) for _ in range(n)]


def _vec(values: list[float]) -> str:
    return "[" + ", ".join(_num(v) for v in values) + "]"


def _num(value: float) -> str:
    text = f"{value:.4g}"
    return "0" if text == "-0" else text


def _t(values: list[float]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def _run(
    model_id: str, d: int, keys: list[list[float]], values: list[list[float]], **hp: Any
) -> dict[str, Any]:
    model = reference.get_model(model_id)
    mem = model.init(d, dtype=torch.float64, **hp)
    for k, v in zip(keys, values, strict=True):
        mem = model.step(mem, _t(k), _t(v), **hp)
    return mem


def cumulative_average_state(rng: random.Random) -> Variant:
    """Mem_2 of the cumulative average after three pairs (the seed's "Calculating a Recurrent Memory State")."""
    keys = [_ints(rng, 2) for _ in range(3)]
    values = [_ints(rng, 2) for _ in range(3)]
    mem = _run("cumulative-average", 2, keys, values)
    names = {f"k{i}": _vec(k) for i, k in enumerate(keys)} | {f"v{i}": _vec(v) for i, v in enumerate(values)}
    mean_k = [round(x, 6) for x in mem["k"].tolist()]
    return {"vars": names | {"answer": _vec(mean_k)}, "answer": {"value": mean_k, "rtol": 1e-3, "atol": 1e-6}}


def cumulative_average_recursive(rng: random.Random) -> Variant:
    """One step of Mem_i = ((k_i, v_i) + i Mem_{i-1}) / (i + 1), from a given previous mean."""
    i = rng.randint(2, 9)
    prev = _ints(rng, 2, -4, 4)
    new = _ints(rng, 2, -6, 6)
    model = reference.get_model("cumulative-average")
    state = {"k": _t(prev), "v": _t(prev), "n": torch.tensor(float(i), dtype=torch.float64)}
    mem = model.step(state, _t(new), _t(new))
    got = [round(x, 6) for x in mem["k"].tolist()]
    names = {"i": str(i), "i_prev": str(i - 1), "prev": _vec(prev), "new": _vec(new), "answer": _vec(got)}
    return {"vars": names, "answer": {"value": got, "rtol": 1e-3, "atol": 1e-6}}


def ema_scalar(rng: random.Random) -> Variant:
    """The EMA of a 1-d stream after three steps, from zero."""
    alpha = rng.choice([0.1, 0.2, 0.25, 0.5])
    xs = _ints(rng, 3, -8, 8)
    mem = _run("ema", 1, [[x] for x in xs], [[x] for x in xs], alpha=alpha)
    value = round(float(mem["v"][0]), 6)
    names = {
        "alpha": _num(alpha),
        "x0": _num(xs[0]),
        "x1": _num(xs[1]),
        "x2": _num(xs[2]),
        "answer": _num(value),
    }
    return {"vars": names, "answer": {"value": value, "rtol": 1e-3, "atol": 1e-6}}


def window_contents(rng: random.Random) -> Variant:
    """Which keys a window of n_c holds after a stream of 1-d keys, oldest first."""
    n_c = rng.choice([2, 3, 4])
    T = n_c + rng.randint(1, 3)
    xs = _ints(rng, T, -9, 9)
    mem = _run("window", 1, [[x] for x in xs], [[x] for x in xs], n_c=n_c)
    kept = [float(x) for x in mem["k"][:, 0].tolist()]
    names = {"n_c": str(n_c), "T": str(T), "last": str(T - 1), "keys": ", ".join(_num(x) for x in xs)}
    names["answer"] = _vec(kept)
    return {"vars": names, "answer": {"value": kept, "rtol": 0.0, "atol": 1e-9}}


def fast_weight_read(rng: random.Random) -> Variant:
    """The read-out M q of the sum-rule memory after two pairs."""
    keys = [_ints(rng, 2, -2, 2) for _ in range(2)]
    values = [_ints(rng, 2, -2, 2) for _ in range(2)]
    q = _ints(rng, 2, -2, 2)
    model = reference.get_model("fast-weight")
    mem = _run("fast-weight", 2, keys, values)
    assert model.read is not None
    y = [round(x, 6) for x in model.read(mem, _t(q)).tolist()]
    M = [[round(x, 6) for x in row] for row in mem["M"].tolist()]
    names = {"k0": _vec(keys[0]), "v0": _vec(values[0]), "k1": _vec(keys[1]), "v1": _vec(values[1])}
    names |= {"q": _vec(q), "answer": _vec(y), "M": "; ".join(_vec(r) for r in M)}
    return {"vars": names, "answer": {"value": y, "rtol": 1e-3, "atol": 1e-6}}


def memory_sizes(rng: random.Random) -> Variant:
    """Numbers a window cache holds against a moving-average cache, from the registry's state layouts."""
    n_c, d = rng.choice([4, 8, 16, 32]), rng.choice([2, 4, 64, 128])
    window = reference.get_model("window").state_shapes(d, n_c=n_c)
    size = sum(int(torch.Size(shape).numel()) for key, shape in window.items() if key in ("k", "v"))
    names = {"n_c": str(n_c), "d": str(d), "answer": str(size), "half": str(size // 2)}
    return {"vars": names, "answer": {"value": float(size), "rtol": 0.0, "atol": 0.5}}


# --- one or more generators per concept page (numbers drawn small, answers from the reference models) ---------


def _numel(shapes: dict[str, tuple[int, ...]], names: tuple[str, ...] = ("k", "v")) -> int:
    """How many numbers the named tensors of a ``state_shapes`` layout hold."""
    return sum(int(torch.Size(shape).numel()) for key, shape in shapes.items() if key in names)


def _r(x: float) -> float:
    return round(float(x), 6)


def _list(values: list[float]) -> str:
    return ", ".join(_num(v) for v in values)


def _vecs(vectors: list[list[float]]) -> str:
    return ", ".join(_vec(v) for v in vectors)


def _close_key(**answer: Any) -> dict[str, Any]:
    return {"rtol": 1e-3, "atol": 1e-6} | answer


def _count_key(value: int) -> dict[str, Any]:
    return {"value": float(value), "rtol": 0.0, "atol": 0.5}


def kv_cache_numbers(rng: random.Random) -> Variant:
    """Numbers a full KV cache holds for m tokens, L layers and tau heads of width d_h (registry layout)."""
    layers, heads = rng.choice([2, 4, 6, 12]), rng.choice([2, 4, 8])
    d_h, m = rng.choice([16, 32, 64]), rng.choice([100, 128, 250, 1000])
    per_head = _numel(reference.get_model("full-kv-cache").state_shapes(d_h, t=m))
    total = layers * heads * per_head
    names = {
        "layers": str(layers),
        "heads": str(heads),
        "d_h": str(d_h),
        "m": str(m),
        "per_head": str(per_head),
    }
    return {"vars": names | {"answer": str(total)}, "answer": _count_key(total)}


def full_minus_window(rng: random.Random) -> Variant:
    """How many more numbers a full KV cache stores than a window cache after T tokens."""
    n_c, d = rng.choice([2, 4, 8, 16]), rng.choice([2, 4, 8, 16])
    T = rng.choice([50, 100, 256, 1000])
    full = _numel(reference.get_model("full-kv-cache").state_shapes(d, t=T))
    window = _numel(reference.get_model("window").state_shapes(d, n_c=n_c))
    names = {"n_c": str(n_c), "d": str(d), "tokens": str(T), "full": str(full), "window": str(window)}
    return {"vars": names | {"answer": str(full - window)}, "answer": _count_key(full - window)}


def summary_slots(rng: random.Random) -> Variant:
    """How many slots (summaries + raw pairs) the summary-vector cache attends over after token i."""
    c = rng.choice([2, 3, 4])
    i = rng.randint(c, 6 * c)
    xs = _ints(rng, i + 1, -9, 9)
    mem = _run("summary-vectors", 1, [[x] for x in xs], [[x] for x in xs], c=c)
    summaries, raw = int(mem["sk"].shape[-2]), int(mem["pos"])
    names = {"c": str(c), "i": str(i), "summaries": str(summaries), "raw": str(raw)}
    return {"vars": names | {"answer": str(summaries + raw)}, "answer": _count_key(summaries + raw)}


def summary_keys(rng: random.Random) -> Variant:
    """The summary keys (chunk means) the summary-vector cache holds after a short 1-d stream."""
    c = rng.choice([2, 3])
    T = rng.randint(c + 1, 3 * c + 1)
    xs = _ints(rng, T, -9, 9)
    mem = _run("summary-vectors", 1, [[x] for x in xs], [[10 * x] for x in xs], c=c)
    got = [_r(x) for x in mem["sk"][:, 0].tolist()]
    names = {"c": str(c), "last": str(T - 1), "keys": _list(xs), "count": str(len(got)), "answer": _vec(got)}
    return {"vars": names, "answer": _close_key(value=got)}


def moving_average_key(rng: random.Random) -> Variant:
    """The plain moving-average key after a short 2-d stream (warm-up included: divide by the pairs present).

    At least two tokens, so that there is a mean to take (a single token's "mean" is the key itself).
    """
    n_c = rng.choice([2, 3, 4])
    T = rng.randint(2, n_c + 3)
    keys = [_ints(rng, 2, -4, 6) for _ in range(T)]
    mem = _run("moving-average", 2, keys, keys, n_c=n_c)
    got = [_r(x) for x in mem["k"].tolist()]
    names = {"n_c": str(n_c), "last": str(T - 1), "keys": _vecs(keys), "used": str(int(mem["n"]))}
    return {"vars": names | {"answer": _vec(got)}, "answer": _close_key(value=got)}


def weighted_moving_average_scalar(rng: random.Random) -> Variant:
    """The weighted moving average (ramp weights beta_j = j, newest heaviest) of a 1-d stream."""
    n_c = rng.choice([3, 4])
    T = rng.randint(n_c - 1, n_c + 2)
    xs = _ints(rng, T, -5, 9)
    mem = _run("weighted-moving-average", 1, [[x] for x in xs], [[x] for x in xs], n_c=n_c)
    value = _r(mem["k"][0])
    names = {"n_c": str(n_c), "last": str(T - 1), "keys": _list(xs), "used": str(int(mem["n"]))}
    return {"vars": names | {"answer": _num(value)}, "answer": _close_key(value=value)}


def moving_average_readout(rng: random.Random) -> Variant:
    """What a query reads from the moving-average cache: the averaged value, whatever the query."""
    n_c = rng.choice([3, 4])
    T = n_c + rng.randint(0, 2)
    keys = [_ints(rng, 2, -3, 3) for _ in range(T)]
    values = [_ints(rng, 2, -4, 6) for _ in range(T)]
    q = _ints(rng, 2, -3, 3)
    model = reference.get_model("moving-average")
    mem = _run("moving-average", 2, keys, values, n_c=n_c)
    assert model.read is not None
    got = [_r(x) for x in model.read(mem, _t(q), n_c=n_c).tolist()]
    names = {"n_c": str(n_c), "last": str(T - 1), "first": str(T - n_c), "keys": _vecs(keys)}
    names |= {"values": _vecs(values), "q": _vec(q), "answer": _vec(got)}
    return {"vars": names, "answer": _close_key(value=got)}


def window_vs_average_sizes(rng: random.Random) -> Variant:
    """How many more numbers attention reads from a window cache than from a moving-average cache."""
    n_c, d = rng.choice([4, 8, 16, 32]), rng.choice([16, 32, 64, 128])
    window = _numel(reference.get_model("window").state_shapes(d, n_c=n_c))
    average = reference.get_model("moving-average").state_shapes(d, n_c=n_c)
    seen, buffer = _numel(average), _numel(average, ("win_k", "win_v"))
    names = {"n_c": str(n_c), "d": str(d), "window": str(window), "average": str(seen), "buffer": str(buffer)}
    return {"vars": names | {"answer": str(window - seen)}, "answer": _count_key(window - seen)}


def ema_weight(rng: random.Random) -> Variant:
    """The weight an EMA memory gives token j in Mem_i: feed 1 at token j and 0 elsewhere, read Mem_i."""
    alpha = rng.choice([0.1, 0.2, 0.25, 0.5])
    i = rng.randint(2, 7)
    j = rng.randint(0, i)
    xs = [[1.0 if t == j else 0.0] for t in range(i + 1)]
    mem = _run("ema", 1, xs, xs, alpha=alpha)
    value = _r(mem["v"][0])
    names = {"alpha": _num(alpha), "i": str(i), "j": str(j), "age": str(i - j), "answer": _num(value)}
    return {"vars": names, "answer": _close_key(value=value)}


def gradient_memory_read(rng: random.Random) -> Variant:
    """Read-out W q of the linear gradient memory (Titans, no momentum, no decay) after two writes."""
    theta = rng.choice([0.1, 0.05])
    keys = [_ints(rng, 2, -2, 2) for _ in range(2)]
    values = [_ints(rng, 2, -3, 3) for _ in range(2)]
    q = _ints(rng, 2, -2, 2)
    model = reference.get_model("gradient-memory")
    first = _run("gradient-memory", 2, keys[:1], values[:1], lr=theta)
    mem = _run("gradient-memory", 2, keys, values, lr=theta)
    assert model.read is not None
    got = [_r(x) for x in model.read(mem, _t(q), lr=theta).tolist()]
    recalled = [_r(x) for x in model.read(first, _t(keys[1]), lr=theta).tolist()]
    names = {"theta": _num(theta), "k0": _vec(keys[0]), "v0": _vec(values[0]), "k1": _vec(keys[1])}
    names |= {"v1": _vec(values[1]), "q": _vec(q), "recalled": _vec(recalled), "answer": _vec(got)}
    names["w_rows"] = "; ".join(_vec([_r(x) for x in row]) for row in mem["W"].tolist())
    return {"vars": names, "answer": _close_key(value=got)}


def linear_attention_read(rng: random.Random) -> Variant:
    """Normalised linear attention with phi = elu + 1 after two pairs with non-negative keys."""
    keys = [[float(rng.choice([0, 1, 2])) for _ in range(2)] for _ in range(2)]
    values = [_ints(rng, 2, -4, 6) for _ in range(2)]
    q = [float(rng.choice([0, 1, 2])) for _ in range(2)]
    model = reference.get_model("linear-attention")
    mem = _run("linear-attention", 2, keys, values)
    assert model.read is not None
    got = [_r(x) for x in model.read(mem, _t(q)).tolist()]
    from reference.linear_attention import elu_plus_one

    phi_q = elu_plus_one(_t(q))
    phis = [elu_plus_one(_t(k)) for k in keys]
    scores = [_r(torch.dot(phi_q, p)) for p in phis]
    names = {"k0": _vec(keys[0]), "v0": _vec(values[0]), "k1": _vec(keys[1]), "v1": _vec(values[1])}
    names |= {"q": _vec(q), "phi_q": _vec(phi_q.tolist()), "phi_k0": _vec(phis[0].tolist())}
    names |= {
        "phi_k1": _vec(phis[1].tolist()),
        "s0": _num(scores[0]),
        "s1": _num(scores[1]),
        "answer": _vec(got),
    }
    return {"vars": names, "answer": _close_key(value=got)}


def delta_rule_same_key(rng: random.Random) -> Variant:
    """Two values written under the same key by the delta rule, read back at that key."""
    beta = rng.choice([0.25, 0.5, 1.0])
    k = _ints(rng, 2, -3, 3)
    va, vb = _ints(rng, 2, -6, 6), _ints(rng, 2, -6, 6)
    model = reference.get_model("delta-rule")
    assert model.read is not None
    first = _run("delta-rule", 2, [k], [va], beta=beta)
    mem = _run("delta-rule", 2, [k, k], [va, vb], beta=beta)
    after_one = [_r(x) for x in model.read(first, _t(k), beta=beta).tolist()]
    got = [_r(x) for x in model.read(mem, _t(k), beta=beta).tolist()]
    names = {"beta": _num(beta), "k": _vec(k), "va": _vec(va), "vb": _vec(vb), "first": _vec(after_one)}
    return {"vars": names | {"answer": _vec(got)}, "answer": _close_key(value=got)}


def delta_rule_repeats(rng: random.Random) -> Variant:
    """A scalar value written n times under one (unnormalised) key by the delta rule, read at that key."""
    beta = rng.choice([0.25, 0.5, 0.75])
    k = [float(x) for x in rng.choice([(3, 4), (0, 2), (-1, 0), (6, 8), (0, -5), (-4, 3), (5, 12), (2, 0)])]
    x = _ints(rng, 1, -9, 9)[0]
    n = rng.randint(2, 4)
    model = reference.get_model("delta-rule")
    assert model.read is not None
    mem = model.init(2, dtype=torch.float64, d_v=1, beta=beta)
    for _ in range(n):
        mem = model.step(mem, _t(k), _t([x]), beta=beta)
    value = _r(model.read(mem, _t(k), beta=beta)[0])
    names = {"beta": _num(beta), "k": _vec(k), "x": _num(x), "n": str(n), "answer": _num(value)}
    return {"vars": names, "answer": _close_key(value=value)}


def segment_visible(rng: random.Random) -> Variant:
    """How many keys token i attends over with a FIFO memory of m segments of length L.

    Token i lies past the first segment (i >= L), so the memory holds at least one segment and the rule is used.
    """
    L, m = rng.choice([2, 3, 4]), rng.choice([1, 2])
    i = rng.randint(L, 4 * L + 3)
    xs = _ints(rng, i + 1, -9, 9)
    mem = _run("segment-recurrence", 1, [[x] for x in xs], [[x] for x in xs], L=L, m=m)
    segments, current = int(mem["mem_n"]), int(mem["pos"])
    seen = segments * L + current
    names = {"seg_len": str(L), "m": str(m), "i": str(i), "segments": str(segments), "current": str(current)}
    return {"vars": names | {"answer": str(seen)}, "answer": _count_key(seen)}


def segment_memory_keys(rng: random.Random) -> Variant:
    """The keys in the segment FIFO (the previous m segments, oldest first) after token i."""
    L, m = rng.choice([2, 3]), rng.choice([1, 2])
    T = rng.randint(L + 1, 4 * L + 1)
    xs = _ints(rng, T, -9, 9)
    mem = _run("segment-recurrence", 1, [[x] for x in xs], [[x] for x in xs], L=L, m=m)
    segments = int(mem["mem_n"])
    got = [float(x) for x in mem["mem_k"][m - segments :, :, 0].flatten().tolist()]
    names = {"seg_len": str(L), "m": str(m), "last": str(T - 1), "keys": _list(xs), "segments": str(segments)}
    return {"vars": names | {"answer": _vec(got)}, "answer": {"value": got, "rtol": 0.0, "atol": 1e-9}}


def hybrid_cmem_keys(rng: random.Random) -> Variant:
    """The compressed keys (mean-pooled groups of c evicted pairs) in CMem after a short 1-d stream.

    After token T - 1, floor((T - 1 - n_m) / c) + 1 groups have been pooled; T >= n_m + c n_cm + 1 makes that more
    than n_cm, so CMem has dropped its oldest entry in every variant (one or two overflows) and the FIFO end matters.
    """
    n_m, c, n_cm = rng.choice([3, 4]), rng.choice([2, 3]), rng.choice([2, 3])
    T = rng.randint(n_m + c * n_cm + 1, n_m + c * (n_cm + 1) + 1)
    xs = _ints(rng, T, -9, 9)
    mem = _run("hybrid-cache", 1, [[x] for x in xs], [[x] for x in xs], n_m=n_m, c=c, n_cm=n_cm)
    cn, n = int(mem["cn"]), int(mem["n"])
    got = [_r(x) for x in mem["ck"][n_cm - cn :, 0].tolist()]
    local = [float(x) for x in mem["k"][n_m - n :, 0].tolist()]
    names = {"n_m": str(n_m), "c": str(c), "n_cm": str(n_cm), "last": str(T - 1), "keys": _list(xs)}
    names |= {"local": _list(local), "answer": _vec(got)}
    return {"vars": names, "answer": _close_key(value=got)}


def sink_tokens(rng: random.Random) -> Variant:
    """Which tokens a StreamingLLM cache (S sinks + a window of W) holds after token i, in cache order."""
    S, W = rng.choice([1, 2, 3, 4]), rng.choice([2, 3, 4])
    i = rng.randint(max(0, S + W - 2), S + W + 6)
    xs = [[float(j)] for j in range(i + 1)]
    hp = {"n_sink": S, "n_recent": W}
    mem = _run("attention-sinks", 1, xs, xs, **hp)
    n = int(mem["n"])
    sinks = [float(x) for x in mem["sink_k"][: min(n, S), 0].tolist()]
    recent = [float(x) for row, x in enumerate(mem["k"][:, 0].tolist()) if n - W + row >= S]
    got = sinks + recent
    names = {"sinks": str(S), "recent": str(W), "i": str(i), "cached": str(n), "answer": _vec(got)}
    return {"vars": names, "answer": {"value": got, "rtol": 0.0, "atol": 1e-9}}


def sink_position(rng: random.Random) -> Variant:
    """The position inside a StreamingLLM cache at which a recent token's key is rotated."""
    S, W = rng.choice([1, 2, 4]), rng.choice([3, 4, 5])
    i = rng.randint(S + W, S + W + 8)
    j = rng.randint(i - W + 1, i)
    xs = [[float(t)] for t in range(i + 1)]
    mem = _run("attention-sinks", 1, xs, xs, n_sink=S, n_recent=W)
    n = int(mem["n"])
    row = [float(x) for x in mem["k"][:, 0].tolist()].index(float(j))
    position = n - W + row
    names = {
        "sinks": str(S),
        "recent": str(W),
        "i": str(i),
        "j": str(j),
        "cached": str(n),
        "query": str(n - 1),
    }
    return {"vars": names | {"answer": str(position)}, "answer": _count_key(position)}


def pairs_read(rng: random.Random) -> Variant:
    """Cached pairs read over a whole stream of n tokens: full KV cache vs a window of n_c (summed step by step)."""
    n, n_c = rng.randint(12, 60), rng.choice([2, 3, 4, 5, 8])
    full_model, window_model = reference.get_model("full-kv-cache"), reference.get_model("window")
    full, window = full_model.init(1, dtype=torch.float64), window_model.init(1, dtype=torch.float64, n_c=n_c)
    full_total = window_total = 0
    for t in range(n):
        x = _t([float(t)])
        full, window = full_model.step(full, x, x), window_model.step(window, x, x, n_c=n_c)
        full_total += int(full["k"].shape[-2])
        window_total += int(window["n"])
    got = [float(full_total), float(window_total)]
    names = {"n": str(n), "n_c": str(n_c), "last": str(n - 1), "full": str(full_total)}
    names |= {"window": str(window_total), "answer": _vec(got)}
    return {"vars": names, "answer": {"value": got, "rtol": 0.0, "atol": 0.5}}


def gated_linear_attention_read(rng: random.Random) -> Variant:
    """The read-out M_2 q of the decayed (gated) matrix memory after three pairs, from M_{-1} = 0."""
    gamma = rng.choice([0.5, 0.8, 0.9])
    keys = [_ints(rng, 2, -2, 2) for _ in range(3)]
    values = [_ints(rng, 2, -2, 2) for _ in range(3)]
    q = _ints(rng, 2, -2, 2)
    model = reference.get_model("gated-linear-attention")
    mem = _run("gated-linear-attention", 2, keys, values, gamma=gamma)
    assert model.read is not None
    y = [_r(x) for x in model.read(mem, _t(q), gamma=gamma).tolist()]
    names = {"gamma": _num(gamma), "q": _vec(q), "answer": _vec(y)}
    names |= {f"k{i}": _vec(k) for i, k in enumerate(keys)} | {f"v{i}": _vec(v) for i, v in enumerate(values)}
    names |= {"w0": _num(gamma**2), "w1": _num(gamma)}
    return {"vars": names, "answer": _close_key(value=y)}


GENERATORS: dict[str, Callable[[random.Random], Variant]] = {
    "cumulative-average-state": cumulative_average_state,
    "cumulative-average-recursive": cumulative_average_recursive,
    "ema-scalar": ema_scalar,
    "window-contents": window_contents,
    "fast-weight-read": fast_weight_read,
    "memory-sizes": memory_sizes,
    "kv-cache-numbers": kv_cache_numbers,
    "full-minus-window": full_minus_window,
    "summary-slots": summary_slots,
    "summary-keys": summary_keys,
    "moving-average-key": moving_average_key,
    "weighted-moving-average-scalar": weighted_moving_average_scalar,
    "moving-average-readout": moving_average_readout,
    "window-vs-average-sizes": window_vs_average_sizes,
    "ema-weight": ema_weight,
    "gradient-memory-read": gradient_memory_read,
    "linear-attention-read": linear_attention_read,
    "delta-rule-same-key": delta_rule_same_key,
    "delta-rule-repeats": delta_rule_repeats,
    "segment-visible": segment_visible,
    "segment-memory-keys": segment_memory_keys,
    "hybrid-cmem-keys": hybrid_cmem_keys,
    "sink-tokens": sink_tokens,
    "sink-position": sink_position,
    "pairs-read": pairs_read,
    "gated-linear-attention-read": gated_linear_attention_read,
}


def variants(name: str, *, slug: str, n: int = N_VARIANTS) -> list[Variant]:
    """``n`` variants of generator ``name`` for question ``slug`` (seeded by both: the same at every sync)."""
    return [GENERATORS[name](random.Random(f"{slug}:{name}:{i}")) for i in range(n)]
