"""The generators of randomized questions: every answer recomputed from the variant's own numbers.

Each test draws a few variants and recomputes the answer key by plain Python arithmetic from the formula on the
concept page (never by calling the reference model the generator used), within the key's own tolerance.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pytest

from apps.quiz.generators import GENERATORS, variants

Variant = dict[str, Any]


def _numbers(text: str) -> list[Any]:
    """``"1, -2"`` or ``"[1, 2], [3, 4]"`` (as the generators write them) -> a list of numbers or of vectors."""
    return json.loads(f"[{text}]")


def _vec(text: str) -> list[float]:
    return json.loads(text)


def _assert_key(variant: Variant, expected: float | list[float]) -> None:
    """The answer key equals ``expected`` within its own tolerance, and the shown answer matches the key."""
    key = variant["answer"]
    rtol, atol = key.get("rtol", 1e-3), key.get("atol", 1e-6)
    got = key["value"]
    if isinstance(expected, list):
        assert isinstance(got, list) and len(got) == len(expected), (variant, expected)
        for g, e in zip(got, expected, strict=True):
            assert abs(g - e) <= atol + rtol * abs(e), (variant, expected)
    else:
        assert abs(got - expected) <= atol + rtol * abs(expected), (variant, expected)
    shown = variant["vars"]["answer"]
    shown_value = _vec(shown) if isinstance(got, list) else float(shown)
    assert shown_value == pytest.approx(got, rel=1e-3, abs=1e-4)  # four significant digits on screen


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def _window(xs: list[Any], last: int, n_c: int) -> list[Any]:
    """Positions max(0, last - n_c + 1) .. last (the clamped window of the page)."""
    return xs[max(0, last - n_c + 1) : last + 1]


def _matvec(W: list[list[float]], x: list[float]) -> list[float]:
    return [sum(w * xi for w, xi in zip(row, x, strict=True)) for row in W]


def _kv_cache_numbers(v: dict[str, str]) -> float:
    # a cache for m tokens: a key and a value of d_h numbers per token, per layer and head
    return 2 * int(v["layers"]) * int(v["heads"]) * int(v["d_h"]) * int(v["m"])


def _full_minus_window(v: dict[str, str]) -> float:
    d = int(v["d"])
    return 2 * int(v["tokens"]) * d - 2 * int(v["n_c"]) * d


def _summary_slots(v: dict[str, str]) -> float:
    # floor(i / c) summaries plus (i mod c) + 1 raw pairs
    i, c = int(v["i"]), int(v["c"])
    return i // c + i % c + 1


def _summary_keys(v: dict[str, str]) -> list[float]:
    keys, c, last = _numbers(v["keys"]), int(v["c"]), int(v["last"])
    return [_mean(keys[g * c : (g + 1) * c]) for g in range(last // c)]  # the chunks before last's own


def _moving_average_key(v: dict[str, str]) -> list[float]:
    window = _window(_numbers(v["keys"]), int(v["last"]), int(v["n_c"]))
    return [_mean([k[j] for k in window]) for j in range(2)]


def _weighted_moving_average_scalar(v: dict[str, str]) -> float:
    n_c = int(v["n_c"])
    window = _window(_numbers(v["keys"]), int(v["last"]), n_c)
    betas = list(range(n_c - len(window) + 1, n_c + 1))  # beta_j = j, beta_{n_c} on the newest
    return sum(b * x for b, x in zip(betas, window, strict=True)) / sum(betas)


def _moving_average_readout(v: dict[str, str]) -> list[float]:
    # one slot: softmax weight 1, so the mean of the window's values, whatever the query
    window = _window(_numbers(v["values"]), int(v["last"]), int(v["n_c"]))
    return [_mean([x[j] for x in window]) for j in range(2)]


def _window_vs_average_sizes(v: dict[str, str]) -> float:
    n_c, d = int(v["n_c"]), int(v["d"])
    return 2 * n_c * d - 2 * d


def _ema_weight(v: dict[str, str]) -> float:
    alpha = float(v["alpha"])
    return alpha * (1 - alpha) ** (int(v["i"]) - int(v["j"]))


def _gradient_memory_read(v: dict[str, str]) -> list[float]:
    theta = float(v["theta"])
    W = [[0.0, 0.0], [0.0, 0.0]]
    for k, val in ((_vec(v["k0"]), _vec(v["v0"])), (_vec(v["k1"]), _vec(v["v1"]))):
        err = [a - b for a, b in zip(val, _matvec(W, k), strict=True)]  # v - W k
        W = [[W[r][c] + theta * err[r] * k[c] for c in range(2)] for r in range(2)]  # W + theta (v - W k) k^T
    return _matvec(W, _vec(v["q"]))


def _linear_attention_read(v: dict[str, str]) -> list[float]:
    def phi(x: list[float]) -> list[float]:  # elu(x) + 1: x + 1 for x >= 0 (all entries here are)
        return [xi + 1 if xi > 0 else math.exp(xi) for xi in x]

    pq = phi(_vec(v["q"]))
    pairs = [(phi(_vec(v["k0"])), _vec(v["v0"])), (phi(_vec(v["k1"])), _vec(v["v1"]))]
    scores = [sum(a * b for a, b in zip(pk, pq, strict=True)) for pk, _ in pairs]
    return [
        sum(s * val[j] for s, (_, val) in zip(scores, pairs, strict=True)) / sum(scores) for j in range(2)
    ]


def _delta_rule_same_key(v: dict[str, str]) -> list[float]:
    # normalised key: the first write stores beta v_a along it, the second keeps (1 - beta) of that and adds beta v_b
    beta = float(v["beta"])
    return [(1 - beta) * beta * a + beta * b for a, b in zip(_vec(v["va"]), _vec(v["vb"]), strict=True)]


def _delta_rule_repeats(v: dict[str, str]) -> float:
    beta, x, n = float(v["beta"]), float(v["x"]), int(v["n"])
    return x * (1 - (1 - beta) ** n)


def _segment_visible(v: dict[str, str]) -> float:
    i, L, m = int(v["i"]), int(v["seg_len"]), int(v["m"])
    return sum(1 for j in range(i + 1) if j // L >= i // L - m)


def _segment_memory_keys(v: dict[str, str]) -> list[float]:
    keys, L, m, last = _numbers(v["keys"]), int(v["seg_len"]), int(v["m"]), int(v["last"])
    s = last // L
    return [k for j, k in enumerate(keys) if max(0, s - m) <= j // L < s]


def _hybrid_cmem_keys(v: dict[str, str]) -> list[float]:
    n_m, c, n_cm = int(v["n_m"]), int(v["c"]), int(v["n_cm"])
    mem: list[float] = []
    cmem: list[float] = []
    for k in _numbers(v["keys"]):  # the page's order: evict the c oldest, pool them, push into CMem, append
        if len(mem) == n_m:
            cmem.append(_mean(mem[:c]))
            mem = mem[c:]
            cmem = cmem[-n_cm:]
        mem.append(k)
    return cmem


def _sink_tokens(v: dict[str, str]) -> list[float]:
    S, W, i = int(v["sinks"]), int(v["recent"]), int(v["i"])
    return [float(j) for j in range(min(S, i + 1))] + [float(j) for j in range(max(S, i - W + 1), i + 1)]


def _sink_position(v: dict[str, str]) -> float:
    # the sinks take cache positions 0..S-1, the recent tokens i-W+1..i the positions right after them
    S, W, i, j = int(v["sinks"]), int(v["recent"]), int(v["i"]), int(v["j"])
    return S + (j - (i - W + 1))


def _pairs_read(v: dict[str, str]) -> list[float]:
    n, n_c = int(v["n"]), int(v["n_c"])
    return [n * (n + 1) / 2, float(sum(min(t + 1, n_c) for t in range(n)))]


def _cumulative_average_state(v: dict[str, str]) -> list[float]:
    keys = [_vec(v[f"k{i}"]) for i in range(3)]  # the mean of the three keys
    return [_mean([k[j] for k in keys]) for j in range(2)]


def _cumulative_average_recursive(v: dict[str, str]) -> list[float]:
    i, prev, new = int(v["i"]), _vec(v["prev"]), _vec(v["new"])  # (k_i + i·mean) / (i + 1)
    return [(n + i * p) / (i + 1) for p, n in zip(prev, new, strict=True)]


def _ema_scalar(v: dict[str, str]) -> float:
    alpha, value = float(v["alpha"]), 0.0  # from zero: m = α x + (1 − α) m
    for name in ("x0", "x1", "x2"):
        value = alpha * float(v[name]) + (1 - alpha) * value
    return value


def _window_contents(v: dict[str, str]) -> list[float]:
    keys = [float(x) for x in v["keys"].split(",")]
    return _window(keys, int(v["last"]), int(v["n_c"]))


def _fast_weight_read(v: dict[str, str]) -> list[float]:
    # M = v0 k0ᵀ + v1 k1ᵀ, read M q
    pairs = [(_vec(v["k0"]), _vec(v["v0"])), (_vec(v["k1"]), _vec(v["v1"]))]
    M = [[sum(val[r] * key[c] for key, val in pairs) for c in range(2)] for r in range(2)]
    return _matvec(M, _vec(v["q"]))


def _memory_sizes(v: dict[str, str]) -> float:
    return 2.0 * int(v["n_c"]) * int(v["d"])  # keys and values, n_c rows of d


def _gated_linear_attention_read(v: dict[str, str]) -> list[float]:
    # M_2 = γ² v0 k0ᵀ + γ v1 k1ᵀ + v2 k2ᵀ, read M_2 q
    gamma = float(v["gamma"])
    pairs = [(_vec(v[f"k{i}"]), _vec(v[f"v{i}"]), gamma ** (2 - i)) for i in range(3)]
    M = [[sum(w * val[r] * key[c] for key, val, w in pairs) for c in range(2)] for r in range(2)]
    return _matvec(M, _vec(v["q"]))


INDEPENDENT: dict[str, Callable[[dict[str, str]], float | list[float]]] = {
    "cumulative-average-state": _cumulative_average_state,
    "cumulative-average-recursive": _cumulative_average_recursive,
    "ema-scalar": _ema_scalar,
    "window-contents": _window_contents,
    "fast-weight-read": _fast_weight_read,
    "memory-sizes": _memory_sizes,
    "kv-cache-numbers": _kv_cache_numbers,
    "full-minus-window": _full_minus_window,
    "summary-slots": _summary_slots,
    "summary-keys": _summary_keys,
    "moving-average-key": _moving_average_key,
    "weighted-moving-average-scalar": _weighted_moving_average_scalar,
    "moving-average-readout": _moving_average_readout,
    "window-vs-average-sizes": _window_vs_average_sizes,
    "ema-weight": _ema_weight,
    "gradient-memory-read": _gradient_memory_read,
    "linear-attention-read": _linear_attention_read,
    "delta-rule-same-key": _delta_rule_same_key,
    "delta-rule-repeats": _delta_rule_repeats,
    "segment-visible": _segment_visible,
    "segment-memory-keys": _segment_memory_keys,
    "hybrid-cmem-keys": _hybrid_cmem_keys,
    "sink-tokens": _sink_tokens,
    "sink-position": _sink_position,
    "pairs-read": _pairs_read,
    "gated-linear-attention-read": _gated_linear_attention_read,
}


def test_every_generator_has_an_independent_check() -> None:
    assert set(INDEPENDENT) == set(GENERATORS)


@pytest.mark.parametrize("name", sorted(INDEPENDENT))
def test_answers_match_an_independent_computation(name: str) -> None:
    for variant in variants(name, slug="t", n=6):
        _assert_key(variant, INDEPENDENT[name](variant["vars"]))


@pytest.mark.parametrize("name", sorted(INDEPENDENT))
def test_two_slugs_give_different_numbers(name: str) -> None:
    first = [v["vars"] for v in variants(name, slug="t", n=6)]
    second = [v["vars"] for v in variants(name, slug="u", n=6)]
    assert first != second
    assert variants(name, slug="t", n=6) == variants(name, slug="t", n=6)  # and the same slug the same ones


def test_every_placeholder_of_a_question_is_filled_by_its_generator() -> None:
    from apps.course.content_files import parse_question
    from apps.quiz.variants import PLACEHOLDER
    from tests.conftest import CONTENT_DIR

    for path in sorted((CONTENT_DIR / "questions").glob("*.yaml")):
        question = parse_question(path)
        texts = [question.stem, question.explanation, *question.choices]
        names = {name for text in texts for name in PLACEHOLDER.findall(text)}
        if not question.generator:
            assert not names, f"{path.name} has placeholders {names} but no generator"
            continue
        assert names, f"{path.name} is randomized but shows none of its numbers"
        for variant in variants(question.generator, slug=question.slug, n=3):
            assert names <= set(variant["vars"]), (
                f"{path.name}: {names - set(variant['vars'])} are never filled"
            )
