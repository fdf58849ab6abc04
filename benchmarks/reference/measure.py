"""Settings, timing, the machine's facts and its hardware limits (bandwidth, matmul FLOP/s)."""

from __future__ import annotations

import ctypes
import ctypes.util
import datetime
import math
import os
import platform
import re
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from reference.registry import ModelSpec, defaults

RESULTS = Path(__file__).resolve().parent.parent / "results"
D = 64
TARGET_N = 65536
SPEEDUP_TARGET = 100.0  # parallel form vs its step loop, at TARGET_N
RATIO_TARGET = 3.0  # parallel time / hardware-limit time, at TARGET_N
REL_TOL = 1e-3  # norm-relative max error allowed between float32 parallel form and float32 step loop
NAIVE_TT_TENSORS = 4  # the naive masked form's peak, estimated as this many T × T float32 tensors
MAX_RUNS = 200  # timed calls of one form at most, however fast it is
NAIVE_MEMORY_SHARE = 0.6  # run the naive form only if its estimate is below this share of MemAvailable
MiB = 2**20
GiB = 2**30

Log = Callable[[str], None]


@dataclass
class Config:
    sizes: list[int] = field(default_factory=lambda: [4096, 16384, 65536])
    repeat: int = 3
    min_time_s: float = 0.5  # a parallel form runs at least `repeat` times and for at least this long
    models: list[str] | None = None  # None: every registered model with attend_parallel
    quick: bool = False
    threads: int = field(default_factory=torch.get_num_threads)
    growing_loop_cap: int = 65536  # the step loop of a growing memory (O(n²) in total) runs up to this n
    loop_budget_s: float = 90.0  # a step loop predicted to take longer than this is not run
    memory: bool = True  # measure peak memory of the window forms in fresh processes
    copy_mib: int = 512
    matmul_n: int = 2048
    seed: int = 0
    device: str = "cpu"  # "cuda": inputs, hardware probes and peak memory on the GPU
    keep_freed_memory: bool = True  # glibc: reuse freed buffers instead of page-faulting fresh ones each call

    @classmethod
    def quick_run(cls, **overrides: Any) -> Config:
        """A smoke run in seconds: tiny sizes, one repeat, small hardware probes, no memory subprocesses."""
        base: dict[str, Any] = dict(
            sizes=[256, 1024], repeat=1, min_time_s=0.0, quick=True, memory=False, copy_mib=32, matmul_n=512
        )
        return cls(**{**base, **overrides})


# ---------------------------------------------------------------------------------------------- measuring


def summary(times: Sequence[float]) -> dict[str, float]:
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        "runs": len(times),
    }


def time_call(
    fn: Callable[[], Any],
    *,
    repeat: int,
    warmup: bool = True,
    budget_s: float = math.inf,
    min_time_s: float = 0.0,
    max_runs: int = MAX_RUNS,
) -> tuple[dict[str, float], Any]:
    """Timed calls until there are ``repeat`` of them and they add up to ``min_time_s`` (at most ``max_runs``;
    at least one; fewer once ``budget_s`` is spent); the summary and the last output.

    A 3 ms form timed 3 times gives a median of whatever the VM did in those 9 ms; timing it for half a second
    (as ``timeit``'s autorange does) makes the median the form's own, while a 4 s form still runs ``repeat`` times.
    """
    if warmup:
        fn()
    times: list[float] = []
    out = None
    while len(times) < max(1, repeat) or (sum(times) < min_time_s and len(times) < max_runs):
        if sum(times) >= budget_s:
            break
        sync()
        started = time.perf_counter()
        out = fn()
        sync()
        times.append(time.perf_counter() - started)
    return summary(times), out


def sync() -> None:
    """Wait for queued GPU work, so that a wall-clock interval covers it (nothing to wait for on CPU)."""
    if torch.cuda.is_initialized():
        torch.cuda.synchronize()


# glibc mallopt parameters (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD_MAX = 32 * MiB  # glibc's ceiling on 64-bit


def keep_freed_memory() -> str:
    """Tell glibc to serve buffers up to 32 MiB from its heap and to keep what is freed (mallopt), as a caching
    allocator (jemalloc, tcmalloc: PyTorch's CPU tuning guide) would.

    By default glibc maps every buffer above its threshold afresh and unmaps it on free, so each call of a
    parallel form page-faults its 16 MiB temporaries in again; on this VM that made the same call 2-3× slower
    at random (linear attention at n = 65536: 38 ms with this, 45-85 ms without). The step loops run under the
    same setting. Returns what was done, for the JSON.
    """
    name = ctypes.util.find_library("c")
    if name is None:
        return "not applied: no C library found"
    try:
        libc = ctypes.CDLL(name)
        ok = libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX) and libc.mallopt(M_TRIM_THRESHOLD, 2**31 - 1)
    except (OSError, AttributeError) as exc:  # not glibc
        return f"not applied: {exc}"
    if not ok:
        return "not applied: mallopt refused"
    return "glibc mallopt: mmap threshold 32 MiB, trim threshold 2 GiB (freed buffers are reused)"


def machine_facts() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"^model name\s*:\s*(.*)$", cpuinfo, re.M)
    flags = re.search(r"^flags\s*:\s*(.*)$", cpuinfo, re.M)
    try:
        capability = torch.backends.cpu.get_cpu_capability()
    except AttributeError:
        capability = None
    return {
        "platform": platform.platform(),
        "cpu": model.group(1).strip() if model else platform.processor() or platform.machine(),
        "avx512f": bool(flags and "avx512f" in flags.group(1).split()),
        "cores": os.cpu_count(),
        "mem_available_bytes": mem_available(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_cpu_capability": capability,
        "torch_threads": torch.get_num_threads(),
        "loadavg_1_5_15min": list(os.getloadavg()),  # a shared machine: other jobs skew the timings
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def mem_available(device: str = "cpu") -> int | None:
    """Free memory in bytes: the GPU's for ``cuda``, else MemAvailable from /proc/meminfo (None without /proc)."""
    if device.startswith("cuda"):
        return torch.cuda.mem_get_info(device)[0]
    try:
        found = re.search(r"^MemAvailable:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
    except OSError:
        return None
    return int(found.group(1)) * 1024 if found else None


def _time_copy(mib: int, repeat: int, device: str) -> tuple[dict[str, float], float]:
    """Timing of ``dst.copy_(src)`` for ``mib`` MiB of float32, and the bytes it moves (read + written)."""
    src = torch.ones(mib * MiB // 4, device=device)
    dst = torch.empty_like(src)
    dst.copy_(src)  # every page faulted in before timing
    stats, _ = time_call(lambda: dst.copy_(src), repeat=repeat)
    return stats, 2.0 * src.numel() * 4


def measure_hardware(cfg: Config, repeat: int | None = None) -> dict[str, Any]:
    """Memory bandwidth (tensor copy) and float32 matmul FLOP/s, medians over several runs (``repeat``, default
    at least 5), on ``cfg.device`` (with this thread count on CPU)."""
    repeat = max(5, cfg.repeat) if repeat is None else repeat
    copy, moved = _time_copy(cfg.copy_mib, repeat, cfg.device)
    m = cfg.matmul_n
    gen = torch.Generator().manual_seed(cfg.seed)
    a, b = (torch.randn(m, m, generator=gen).to(cfg.device) for _ in range(2))
    c = torch.empty(m, m, device=cfg.device)
    mm, _ = time_call(lambda: torch.matmul(a, b, out=c), repeat=repeat)
    work = 2.0 * m**3
    return {
        "threads": torch.get_num_threads(),
        "device": device_name(cfg.device),
        "bandwidth": {
            "what": f"copy of a {cfg.copy_mib} MiB float32 tensor; bytes read + written / time",
            "bytes": moved,
            **copy,
            "bytes_per_s": moved / copy["median_s"],
            "bytes_per_s_range": [moved / copy["max_s"], moved / copy["min_s"]],
        },
        "matmul": {
            "what": f"float32 {m}x{m} @ {m}x{m}; 2·m³ flops / time",
            "flops": work,
            **mm,
            "flop_per_s": work / mm["median_s"],
            "flop_per_s_range": [work / mm["max_s"], work / mm["min_s"]],
        },
    }


def device_name(device: str) -> str:
    """The GPU's name for ``cuda`` (the CPU's is in the machine facts)."""
    return torch.cuda.get_device_name(device) if device.startswith("cuda") else "cpu"


def make_inputs(
    n: int, *, d: int = D, seed: int = 0, device: str = "cpu"
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Q, K ~ N(0, 1)/√d (scores stay O(1)), V ~ N(0, 1); each ``(1, 1, n, d)`` float32, the same for a seed
    on every device (drawn on the CPU, then moved)."""
    gen = torch.Generator().manual_seed(seed)
    Q = torch.randn(1, 1, n, d, generator=gen) / d**0.5  # (B, H, T, D)
    K = torch.randn(1, 1, n, d, generator=gen) / d**0.5  # (B, H, T, D)
    V = torch.randn(1, 1, n, d, generator=gen)  # (B, H, T, D)
    return Q.to(device), K.to(device), V.to(device)


def rel_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """max|actual - expected| / max|expected| (inf for a shape mismatch or a non-finite value)."""
    if actual.shape != expected.shape:
        return math.inf
    a, e = actual.double(), expected.double()
    err = (a - e).abs().max().item() if e.numel() else 0.0
    scale = e.abs().max().item() if e.numel() else 0.0
    if not (math.isfinite(err) and math.isfinite(scale)):
        return math.inf
    return err / scale if scale > 0 else err


# hyper-parameters at the scale the benchmark runs (d = 64, T up to 65536), by model id; the defaults elsewhere
BENCH_HP: dict[str, dict[str, int | float]] = {
    "attention-sinks": {"n_sink": 4, "n_recent": 252},
    "delta-rule": {"beta": 0.5},
    "ema": {"alpha": 0.1},
    "hybrid-cache": {"n_m": 256, "c": 4, "n_cm": 64},
    "moving-average": {"n_c": 256},
    "segment-recurrence": {"L": 128, "m": 1},
    "summary-vectors": {"c": 64},
    "weighted-moving-average": {"n_c": 256},
    "window": {"n_c": 256},
}


def bench_hp(spec: ModelSpec) -> dict[str, Any]:
    """The defaults with the benchmark's hyper-parameters (``BENCH_HP``) over them, checked."""
    hp: dict[str, Any] = {**defaults(spec), **BENCH_HP.get(spec.id, {})}
    spec.check_hyperparams(hp)
    return hp


NEAR_REPEAT = 3  # runs of each probe taken next to a form's timing


def rates(hw: Mapping[str, Any]) -> dict[str, float]:
    """The two numbers of a hardware measurement that a limit uses."""
    return {"flop_per_s": hw["matmul"]["flop_per_s"], "bytes_per_s": hw["bandwidth"]["bytes_per_s"]}


def faster(*measured: Mapping[str, float]) -> dict[str, float]:
    """The higher FLOP/s and the higher bandwidth of several probes: the machine at its best around a timing, so
    that a limit never flatters a form that ran while the machine was slow."""
    return {key: max(m[key] for m in measured) for key in ("flop_per_s", "bytes_per_s")}


def hardware_limit(spec: ModelSpec, n: int, hp: Mapping[str, Any], hw: Mapping[str, Any]) -> dict[str, Any]:
    """The fastest the parallel form could run here: max(flops / FLOP/s, bytes / bandwidth)."""
    assert spec.parallel_cost is not None
    flops, nbytes = spec.parallel_cost(n, D, hp)
    near = rates(hw) if "matmul" in hw else hw
    compute_s = flops / near["flop_per_s"]
    memory_s = nbytes / near["bytes_per_s"]
    return {
        "flops": flops,
        "bytes": nbytes,
        "flop_per_s": near["flop_per_s"],
        "bytes_per_s": near["bytes_per_s"],
        "compute_s": compute_s,
        "memory_s": memory_s,
        "time_s": max(compute_s, memory_s),
        "bound": "compute" if compute_s >= memory_s else "memory",
    }
