"""Reference memory models against their own step loops and against the machine. Prints a table, writes JSON.

``python -m benchmarks.reference`` (part of ``make bench``) measures, in one run, at d = 64, B = H = 1, float32:

* the hardware limits, at the thread count the models use: memory bandwidth (copy of a 512 MiB float32 tensor,
  bytes read + written over the time) and float32 matmul FLOP/s (2048 × 2048 @ 2048 × 2048);
* for every registered model with ``attend_parallel`` and every n: the parallel form (warm-up, then median and
  min–max of at least ``--repeat`` runs, more until they add up to ``--min-time`` seconds) and the token-by-token step loop ``reference.attend_scan``; that the two agree
  (norm-relative max error); the speedup; and the parallel time over its hardware limit
  max(flops / FLOP/s, bytes / bandwidth), the work coming from ``spec.parallel_cost`` and the rates from the same
  two probes run right before and right after that form's timing, the faster of each pair (this VM's speed
  drifts by up to 2x within one run: the matmul probe read 193 and 326 GFLOP/s 30 s apart);
* how many ATen ops each parallel form dispatches per call (``benchmarks.reference.ops``, counted on meta tensors):
  about one kernel launch each on CUDA, where a form with a loop over chunks is bound by its launches;
* blocked window attention vs naive masked attention (the full T × T score matrix, run only where it fits in the
  available memory), with the peak memory of each measured in a fresh process.

Targets (the benchmark issue): at n = 65536 every parallel form is at least 100× faster than its step loop and
within 3× of the hardware limit; window attention uses O(n·w) memory. Nothing is extrapolated silently: a step
loop that is not run says why, and an estimate in its place carries ``"extrapolated": true`` and how it was made.
"""

from __future__ import annotations

from benchmarks.reference.cli import format_report, main, run, write_json
from benchmarks.reference.measure import REL_TOL, Config, faster, measure_hardware, rel_error
from benchmarks.reference.models import bench_model

__all__ = [
    "REL_TOL",
    "Config",
    "bench_model",
    "format_report",
    "main",
    "faster",
    "measure_hardware",
    "rel_error",
    "run",
    "write_json",
]
