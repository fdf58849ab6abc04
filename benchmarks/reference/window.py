"""Blocked window attention against the naive masked T × T form, with peak memory measured in fresh processes."""

from __future__ import annotations

import importlib
import inspect
import multiprocessing
import re
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import torch

import reference
from benchmarks.reference.fmt import window_progress_line
from benchmarks.reference.measure import (
    NAIVE_MEMORY_SHARE,
    NAIVE_TT_TENSORS,
    REL_TOL,
    Config,
    GiB,
    Log,
    MiB,
    bench_hp,
    make_inputs,
    mem_available,
    rel_error,
    time_call,
)
from reference.registry import ModelSpec


def find_window() -> tuple[ModelSpec | None, Callable[..., torch.Tensor] | None, str | None]:
    """The window model's spec and ``window_attend_naive``, or the reason the section cannot run."""
    try:
        module = importlib.import_module("reference.window")
    except ImportError as exc:
        return None, None, f"reference.window is not there yet ({exc})"
    spec = getattr(module, "SPEC", None)
    if not isinstance(spec, ModelSpec):
        spec = next(
            (
                s
                for s in reference.MODELS.values()
                if s.attend_parallel is not None and s.attend_parallel.__module__ == module.__name__
            ),
            None,
        )
    if spec is None or spec.attend_parallel is None:
        return None, None, "reference.window registers no model with attend_parallel"
    naive = getattr(module, "window_attend_naive", None)
    if naive is None:
        return spec, None, "reference.window.window_attend_naive does not exist yet"
    return spec, naive, None


def call_kwargs(fn: Callable[..., Any], hp: Mapping[str, Any]) -> dict[str, Any]:
    """The hyper-parameters ``fn`` accepts (all of them if it takes ``**kwargs``)."""
    params = inspect.signature(fn).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return dict(hp)
    names = {p.name for p in params}
    return {k: v for k, v in hp.items() if k in names}


def _status_kib(field_name: str) -> int:
    found = re.search(rf"^{field_name}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M)
    assert found, field_name
    return int(found.group(1))


def function_path(fn: Callable[..., Any]) -> str:
    """``module:qualname``, how a fresh process finds ``fn`` again."""
    return f"{fn.__module__}:{fn.__qualname__}"


def peak_memory_child(path: str, n: int, kwargs: dict[str, Any], threads: int, seed: int) -> dict[str, Any]:
    """In a fresh process: the peak RSS of one call of ``path`` above the baseline (torch imported, inputs made)."""
    torch.set_num_threads(threads)
    module, _, name = path.partition(":")
    fn: Any = importlib.import_module(module)
    for part in name.split("."):
        fn = getattr(fn, part)
    with torch.no_grad():
        fn(*make_inputs(min(n, 256), seed=seed), **kwargs)  # one-time kernel setup is not the algorithm's
        Q, K, V = make_inputs(n, seed=seed)
        try:
            Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
            method = "VmHWM - VmRSS, VmHWM reset just before the call"
        except OSError:
            method = "VmHWM - VmRSS, VmHWM not resettable: may include the import peak"
        base = _status_kib("VmRSS")
        fn(Q, K, V, **kwargs)
        peak = _status_kib("VmHWM")
    return {"peak_extra_bytes": (peak - base) * 1024, "baseline_rss_bytes": base * 1024, "method": method}


def peak_memory_cuda(
    fn: Callable[..., Any], n: int, kwargs: Mapping[str, Any], cfg: Config
) -> dict[str, Any]:
    """The GPU memory one call allocates above what its inputs hold (``torch.cuda.max_memory_allocated``)."""
    with torch.no_grad():
        Q, K, V = make_inputs(n, seed=cfg.seed, device=cfg.device)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(cfg.device)
        base = torch.cuda.memory_allocated(cfg.device)
        fn(Q, K, V, **kwargs)
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated(cfg.device)
    method = "torch.cuda.max_memory_allocated - memory_allocated before the call"
    return {"peak_extra_bytes": peak - base, "baseline_rss_bytes": base, "method": method}


def measure_peak(fn: Callable[..., Any], n: int, kwargs: Mapping[str, Any], cfg: Config) -> dict[str, Any]:
    """``peak_memory_child`` in a spawned process of its own, so that no earlier allocation hides the peak;
    on a GPU, the caching allocator's own peak counter in this process."""
    if cfg.device.startswith("cuda"):
        return peak_memory_cuda(fn, n, kwargs, cfg)
    ctx = multiprocessing.get_context("spawn")
    args = (function_path(fn), n, dict(kwargs), cfg.threads, cfg.seed)
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
            return pool.submit(peak_memory_child, *args).result()
    except Exception as exc:  # e.g. the child was killed for memory
        return {"error": f"{type(exc).__name__}: {exc}"}


def bench_window(
    cfg: Config, hw: Mapping[str, Any], models: Mapping[str, dict[str, Any]], log: Log = print
) -> dict[str, Any]:
    """Blocked window attention vs naive masked attention: time, agreement and peak memory per n."""
    spec, naive, reason = find_window()
    if spec is None or naive is None:
        log(f"window attention: skipped, {reason}")
        return {"skipped": reason}
    assert spec.attend_parallel is not None
    hp = bench_hp(spec)
    w = int(hp["n_c"]) if "n_c" in hp else None
    naive_kwargs = call_kwargs(naive, hp)
    rows: dict[str, dict[str, Any]] = {}
    for n in cfg.sizes:
        measured = models.get(spec.id, {}).get("sizes", {}).get(str(n), {}).get("parallel")
        row = window_size(spec.attend_parallel, naive, n, hp, naive_kwargs, cfg, measured)
        if cfg.memory:
            row["blocked_peak"] = _peak_row(measure_peak(spec.attend_parallel, n, hp, cfg), n, w)
            if row["naive"]["run"]:
                row["naive_peak"] = _peak_row(measure_peak(naive, n, naive_kwargs, cfg), n, w)
        rows[str(n)] = row
        log(window_progress_line(row))
    target = (
        window_memory_target(rows)
        if cfg.memory
        else {"met": None, "why": "peak memory not measured in this run (--quick)"}
    )
    return {"model": spec.id, "hp": hp, "w": w, "sizes": rows, "memory_target": target}


def window_size(
    blocked_fn: Callable[..., torch.Tensor],
    naive: Callable[..., torch.Tensor],
    n: int,
    hp: Mapping[str, Any],
    naive_kwargs: Mapping[str, Any],
    cfg: Config,
    measured: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Time both forms at one n (the blocked one reuses the model section's timing) and check they agree."""
    Q, K, V = make_inputs(n, seed=cfg.seed, device=cfg.device)
    with torch.no_grad():
        if measured:
            blocked, y_blk = dict(measured), blocked_fn(Q, K, V, **hp)
        else:
            blocked, y_blk = time_call(
                lambda: blocked_fn(Q, K, V, **hp), repeat=cfg.repeat, min_time_s=cfg.min_time_s
            )
        row: dict[str, Any] = {"n": n, "blocked": blocked}
        estimate = NAIVE_TT_TENSORS * 4.0 * n * n
        available = mem_available(cfg.device)
        if available is not None and estimate > NAIVE_MEMORY_SHARE * available:
            row["naive"] = {
                "run": False,
                "reason": f"needs ~{estimate / GiB:.0f} GiB ({NAIVE_TT_TENSORS} float32 T×T tensors), "
                f"{available / GiB:.1f} GiB available",
            }
            return row
        head = slice(0, 256)  # warm-up on a prefix, as for the step loops
        naive(Q[..., head, :], K[..., head, :], V[..., head, :], **naive_kwargs)
        stats, y_naive = time_call(
            lambda: naive(Q, K, V, **naive_kwargs), repeat=cfg.repeat, warmup=False, budget_s=5.0
        )
    row["naive"] = {"run": True, **stats, "estimate_bytes": estimate}
    row["max_rel_err"] = rel_error(y_blk, y_naive)
    row["correct"] = row["max_rel_err"] <= REL_TOL
    row["speedup"] = stats["median_s"] / blocked["median_s"]
    return row


def _peak_row(peak: dict[str, Any], n: int, w: int | None) -> dict[str, Any]:
    if "peak_extra_bytes" in peak:
        peak["peak_extra_mib"] = peak["peak_extra_bytes"] / MiB
        if w:
            peak["ratio_to_n_w_4B"] = peak["peak_extra_bytes"] / (n * w * 4)
    return peak


def window_memory_target(rows: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """O(n·w): from the smallest to the largest n, the blocked form's peak grows no faster than 1.5× linear."""
    peaks = [
        (r["n"], r["blocked_peak"]["peak_extra_bytes"])
        for r in rows.values()
        if "peak_extra_bytes" in r.get("blocked_peak", {})
    ]
    if len(peaks) < 2:
        return {"met": None, "why": "peak memory measured at fewer than two sizes"}
    (n1, b1), (n2, b2) = min(peaks), max(peaks)
    growth = b2 / max(b1, 1)
    return {
        "rule": "peak(n_max) / peak(n_min) <= 1.5 * n_max / n_min",
        "growth": growth,
        "linear_growth": n2 / n1,
        "met": growth <= 1.5 * n2 / n1,
    }
