"""Grading latency of one standard recurrent exercise (fast-weight-memory, reference solution), on ONE core.

``python -m benchmarks grading`` pins itself (and so the zygote and every sandbox job it forks) to one CPU, grades the
solution ``--runs`` times (default 200) through the full sandbox, and reports p50/p95/min/max of: the sandbox start
of each job (the supervisor's start to a confined runner, measured by the supervisor), each job's round trip, and
the whole grading; beside it, in the same run, the fresh-interpreter baseline (``python -I -c "import torch"``),
which is what a sandbox without a zygote would pay per job; and the CPU of an empty job (the zygote's and its
children's, from /proc), the floor under every job of a grading. Targets (grading-engine issue): sandbox start at most
25 ms and whole grading at most 250 ms p50 on one core. Prints a table and writes
``benchmarks/results/grading.json``.
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
START_TARGET_S = 0.025
TOTAL_TARGET_S = 0.250


def _summary(xs: list[float]) -> dict[str, float]:
    ordered = sorted(xs)
    return {
        "p50_s": statistics.median(ordered),
        "p95_s": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
        "min_s": ordered[0],
        "max_s": ordered[-1],
        "n": len(ordered),
    }


def empty_job_cpu(n: int = 100, *, slot: int | None = None) -> dict[str, float]:
    """CPU per empty sandbox job (import a one-line module, call nothing), with the zygote's and its children's
    times read from /proc: the floor of what every job of a grading costs (its forks, confinement and exits).
    A fresh zygote, so that none of its ``max_jobs`` is used up halfway."""
    from graders.sandbox.host import ZygoteHost, default_host
    from graders.sandbox.jobs import Job, run_job

    # by default the grading loop's slot: its zygote is idle meanwhile
    host = ZygoteHost(slot=default_host().slot if slot is None else slot)
    try:
        job = [{"op": "module", "require": []}]
        for _ in range(10):  # warm: the zygote is ready and its first jobs' one-time costs are behind
            run_job(Job("x = 1\n", job), host)
        assert host._proc is not None
        zygote = host._proc.pid
        tick = os.sysconf("SC_CLK_TCK")

        def cpu_s() -> float:  # the zygote's own time and that of its reaped children (supervisors, runners)
            fields = Path(f"/proc/{zygote}/stat").read_text().rsplit(")", 1)[1].split()
            return sum(int(x) for x in fields[11:15]) / tick

        before, wall = cpu_s(), time.perf_counter()
        for _ in range(n):
            run_job(Job("x = 1\n", job), host)
        return {"cpu_s": (cpu_s() - before) / n, "wall_s": (time.perf_counter() - wall) / n, "n": n}
    finally:
        host.close()


def run(n: int = 200, *, cpu: int | None = 0) -> dict[str, Any]:
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})  # before the zygote starts: it and its jobs inherit the one core
    spec = graders.load_exercise("fast-weight-memory")
    source = spec.solution.encode()
    graders.grade(spec, source)  # warm-up: zygote started, torch loaded
    totals: list[float] = []
    roundtrips: list[float] = []
    starts: list[float] = []
    layers: list[str] = []
    jobs_run: list[int] = []
    parent_cpu: list[float] = []
    for _ in range(n):
        cpu_before = time.process_time()
        report = graders.grade(spec, source)
        parent_cpu.append(time.process_time() - cpu_before)  # the grader's own work: checks, plans, the wire
        assert report.verdict == "passed", report.to_dict()
        layers = report.sandbox.layers
        totals.append(report.timings["total_s"])
        jobs_run.append(report.timings["jobs_run"])
        for job in report.timings["jobs"].values():  # the hidden job's times are never in a report
            roundtrips.append(job["roundtrip_s"])
            if job.get("start_s") is not None:
                starts.append(job["start_s"])
    empty = empty_job_cpu()
    fresh = []
    for _ in range(7):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-I", "-c", "import torch"], check=True)
        fresh.append(time.perf_counter() - started)
    result: dict[str, Any] = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "pinned_to_cpu": cpu,
            "load_average": os.getloadavg(),
            "python": platform.python_version(),
        },
        "grader_version": graders.GRADER_VERSION,
        "sandbox_layers": layers,
        "jobs_per_grading": statistics.median(jobs_run) if jobs_run else 0,
        "grade_total": _summary(totals),
        "grader_parent_cpu": _summary(parent_cpu),
        "empty_job_cpu": empty,
        "sandbox_job_roundtrip": _summary(roundtrips),
        "fresh_interpreter_import_torch": _summary(fresh),
        "ratio_fresh_to_job": statistics.median(fresh) / statistics.median(roundtrips),
    }
    if starts:
        result["sandbox_start"] = _summary(starts)
    result["targets"] = {
        "sandbox_start_p50_max_s": START_TARGET_S,
        "sandbox_start_met": bool(starts) and statistics.median(starts) <= START_TARGET_S,
        "grade_total_p50_max_s": TOTAL_TARGET_S,
        "grade_total_met": statistics.median(totals) <= TOTAL_TARGET_S,
    }
    return result


def main() -> None:
    result = run()
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "grading.json"
    out.write_text(json.dumps(result, indent=2))
    print(
        f"one core, {result['jobs_per_grading']} sandbox jobs per grading; layers: {', '.join(result['sandbox_layers'])}"
    )
    print(f"{'measure':<34} {'p50 ms':>8} {'p95 ms':>8} {'min':>8} {'max':>8} {'n':>5}")
    keys = ("sandbox_start", "sandbox_job_roundtrip", "grade_total", "grader_parent_cpu")
    for key in (*keys, "fresh_interpreter_import_torch"):
        if key not in result:
            continue
        s = result[key]
        print(
            f"{key:<34} {s['p50_s'] * 1e3:8.1f} {s['p95_s'] * 1e3:8.1f} {s['min_s'] * 1e3:8.1f} "
            f"{s['max_s'] * 1e3:8.1f} {s['n']:5d}"
        )
    t = result["targets"]
    print(
        f"targets: sandbox start p50 <= {t['sandbox_start_p50_max_s'] * 1e3:.0f} ms: "
        f"{'met' if t['sandbox_start_met'] else 'NOT met'}; whole grading p50 <= "
        f"{t['grade_total_p50_max_s'] * 1e3:.0f} ms: {'met' if t['grade_total_met'] else 'NOT met'}"
    )
    empty = result["empty_job_cpu"]
    print(
        f"an empty sandbox job: {empty['cpu_s'] * 1e3:.1f} ms of CPU (zygote and its children), "
        f"{empty['wall_s'] * 1e3:.1f} ms wall, mean of {empty['n']}"
    )
    print(f"fresh interpreter / sandbox job: {result['ratio_fresh_to_job']:.0f}x   (saved to {out})")
    os._exit(0)  # skip torch's slow teardown


if __name__ == "__main__":
    main()
