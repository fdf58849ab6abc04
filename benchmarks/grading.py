"""Grading latency of one standard exercise (fast-weight-memory, reference solution), warm, in one process,
beside the fresh-interpreter baseline measured in the same run. Prints a table and writes JSON.

The full benchmark (≥ 200 runs, sandbox start vs whole grading, targets) belongs to the grading-engine issue;
this is the foundation's baseline so that later changes are compared against something measured.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import graders

RESULTS = Path(__file__).resolve().parent / "results"


def _summary(xs: list[float]) -> dict[str, float]:
    ordered = sorted(xs)
    return {
        "p50_s": statistics.median(ordered),
        "p95_s": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
        "min_s": ordered[0],
        "max_s": ordered[-1],
        "n": len(ordered),
    }


def run(n: int = 100) -> dict[str, Any]:
    spec = graders.load_exercise("fast-weight-memory")
    source = spec.solution.encode()
    graders.grade(spec, source)  # warm-up: zygote started, torch loaded
    totals, roundtrips = [], []
    for _ in range(n):
        report = graders.grade(spec, source)
        assert report.verdict == "passed", report.to_dict()
        totals.append(report.timings["total_s"])
        roundtrips += [job["roundtrip_s"] for job in report.timings["jobs"].values()]
    fresh = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-I", "-c", "import torch"], check=True)
        fresh.append(time.perf_counter() - started)
    return {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
        },
        "grader_version": graders.GRADER_VERSION,
        "grade_total": _summary(totals),
        "sandbox_job_roundtrip": _summary(roundtrips),
        "fresh_interpreter_import_torch": _summary(fresh),
        "ratio_fresh_to_job": statistics.median(fresh) / statistics.median(roundtrips),
    }


def main() -> None:
    result = run()
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "grading-baseline.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"{'measure':<34} {'p50 ms':>8} {'p95 ms':>8} {'min':>8} {'max':>8} {'n':>5}")
    for key in ("grade_total", "sandbox_job_roundtrip", "fresh_interpreter_import_torch"):
        s = result[key]
        print(
            f"{key:<34} {s['p50_s'] * 1e3:8.1f} {s['p95_s'] * 1e3:8.1f} {s['min_s'] * 1e3:8.1f} {s['max_s'] * 1e3:8.1f} {s['n']:5d}"
        )
    print(f"fresh interpreter / sandbox job: {result['ratio_fresh_to_job']:.0f}x   (saved to {out})")
    os._exit(0)  # skip torch's slow teardown


if __name__ == "__main__":
    main()
