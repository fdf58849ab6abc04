"""End to end: HTTP POST → Redis → Celery worker → sandbox → stored report, on both topologies, side by side.

``python -m benchmarks e2e --topology production|embedded|both`` (default both) brings up, on this machine
(benchmarks/_stack.py):

* **production**: a fresh PostgreSQL database, a Redis database of its own, gunicorn (2 sync workers, DEBUG off)
  and one Celery worker ``-Q grading,maintenance --concurrency 2``, as docker-compose.yml runs them;
* **embedded**: what `make run` starts, on a temporary MEMLAB_VAR_DIR: SQLite, the private Redis on a unix socket,
  the worker with beat inside (concurrency 1) and gunicorn (2 workers x 4 threads, DEBUG on), with supervisord's
  command lines and environment.

``both`` runs each in an interpreter of its own, one after the other (Django is set up once per process, on one
database; and one stack's processes must not skew the other's timings), then prints their figures side by side.
Students log in through the login form, each with a session of their own, and submit the reference solution of
``cumulative-average-memory`` through the submit endpoint, as the browser's htmx form does.

* **Sequential** (default 200, after a few warm-up submissions): one submission at a time; its latency runs from
  the POST until the run-status fragment the browser polls shows the stored report (polled every 15 ms). The
  database's ``finished_at − created_at`` is kept beside it, and the time is split into the POST's round trip,
  the wait in the queue (``started_at − created_at``), the grading (``finished_at − started_at``) and the lag
  until the report shows (the poll interval and one request).
* **Burst** (default 300): every submission POSTed at once from a pool of threads, then the benchmark waits until
  all are stored (reading the database, so that waiting adds no load to the web). Drain rate: submissions over
  the time from the first POST to the last verdict; per-submission latency: POST to ``finished_at``. The CPU is
  measured over the burst (/proc/stat, per core; CPU seconds of the worker and of gunicorn).

The per-student rate limit (6 submissions a minute per exercise, apps/lab/selectors.py) stays on: submissions are
spread over enough students that none reaches it. Targets (issue 7, on 2 cores): p50 ≤ 0.3 s, p95 ≤ 0.8 s,
burst drain ≥ 20 gradings/s with both cores busy (for the production topology; the embedded one is measured
against the same figures, and its SQLite burst may be slower). Prints a table per topology and, for ``both``, the
two side by side; writes ``benchmarks/results/e2e.json`` (``--quick``: 20 sequential, 30 in the burst,
``e2e-quick.json``). Its top-level keys (p50_s, p95_s, max_s, n, sequential, burst, targets, machine, config) are
the production topology's, as before; ``both`` adds ``embedded`` (the same keys, for the embedded topology) and
``side_by_side`` (the headline figures of each). ``--topology embedded`` alone writes ``e2e-embedded.json``.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import math
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
EXERCISE = "cumulative-average-memory"
POLL_S = 0.015  # the benchmark's poll of the run-status endpoint (the page itself polls every 500 ms)
TARGETS = {"p50_max_s": 0.3, "p95_max_s": 0.8, "burst_drain_min_per_s": 20.0, "core_busy_min": 0.8}
TOPOLOGIES = ("production", "embedded")
LABELS = {"production": "PostgreSQL + Redis (TCP)", "embedded": "SQLite + private Redis (make run)"}
RUN_ID = re.compile(r'id="run-(\d+)"')
STATUS = re.compile(r'data-status="(\w+)"')
VERDICT = re.compile(r'data-verdict="(\w+)"')


# --- numbers ---------------------------------------------------------------------------------------------
def percentile(xs: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in [0, 1]): the smallest value with at least q of the values at or below it."""
    if not xs:
        raise ValueError("no values")
    ordered = sorted(xs)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def summary(xs: Sequence[float]) -> dict[str, float | int]:
    """p50 (median), p95, min, max and mean of seconds, and n."""
    return {
        "p50_s": statistics.median(xs),
        "p95_s": percentile(xs, 0.95),
        "min_s": min(xs),
        "max_s": max(xs),
        "mean_s": statistics.fmean(xs),
        "n": len(xs),
    }


def parse_run_id(html: str) -> int | None:
    match = RUN_ID.search(html)
    return int(match.group(1)) if match else None


def parse_status(html: str) -> tuple[str | None, str | None]:
    """(status, verdict) of a run-status fragment; verdict None while the run is pending."""
    status, verdict = STATUS.search(html), VERDICT.search(html)
    return (status.group(1) if status else None), (verdict.group(1) if verdict else None)


class StudentPicker:
    """Hands out students so that none goes over the rate limit: at most ``limit`` submissions in any ``window_s``
    (the app allows 6 a minute; keep a margin of one for the gap between the client's and the server's clocks).
    The least recently used student with room goes first."""

    def __init__(self, names: Sequence[str], *, limit: int, window_s: float) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit, self.window_s = limit, window_s
        self.history: dict[str, collections.deque[float]] = {name: collections.deque() for name in names}
        self.order = collections.deque(names)

    def _recent(self, name: str, now: float) -> collections.deque[float]:
        times = self.history[name]
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times

    def take(self, now: float) -> str | None:
        """A student who may submit at ``now`` (recorded as submitting then), or None if nobody may."""
        for _ in range(len(self.order)):
            name = self.order[0]
            self.order.rotate(-1)
            times = self._recent(name, now)
            if len(times) < self.limit:
                times.append(now)
                return name
        return None

    def wait_s(self, now: float) -> float:
        """Seconds until some student may submit again."""
        free_at = [
            times[0] + self.window_s if len(times) >= self.limit else now
            for times in (self._recent(name, now) for name in self.history)
        ]
        return max(0.0, min(free_at, default=now) - now)


# --- a student's browser ---------------------------------------------------------------------------------
class Refused(RuntimeError):
    """The submit endpoint answered without creating a run (rate limit, validation)."""


@dataclass
class Student:
    base: str
    username: str
    session: Any = None  # requests.Session, made by login()

    def login(self, password: str) -> None:
        import requests

        self.session = requests.Session()
        url = self.base + "/accounts/login/"
        self.session.get(url, timeout=30).raise_for_status()
        form = {
            "username": self.username,
            "password": password,
            "next": "",
            "csrfmiddlewaretoken": self._csrf(),
        }
        response = self.session.post(url, data=form, allow_redirects=False, timeout=30)
        if response.status_code != 302:
            raise RuntimeError(f"login of {self.username} failed: HTTP {response.status_code}")

    def _csrf(self) -> str:
        return str(self.session.cookies["csrftoken"])

    def submit(self, slug: str, source: str) -> int:
        """POST the code as the editor's htmx form does (multipart, X-CSRFToken); returns the new run's id."""
        response = self.session.post(
            f"{self.base}/exercises/{slug}/submit/",
            files={"code": (None, source)},
            headers={"HX-Request": "true", "X-CSRFToken": self._csrf()},
            allow_redirects=False,
            timeout=60,
        )
        response.raise_for_status()
        run_id = parse_run_id(response.text)
        if run_id is None:
            text = re.sub(r"<[^>]+>|\s+", " ", response.text)
            raise Refused(f"{self.username}: no run created: {text[:300]}")
        return run_id

    def status(self, run_id: int) -> tuple[str | None, str | None]:
        response = self.session.get(
            f"{self.base}/runs/{run_id}/status/", headers={"HX-Request": "true"}, timeout=30
        )
        response.raise_for_status()
        return parse_status(response.text)


class Classroom:
    """Students logged in on first use (logins are PBKDF2: kept out of every timing)."""

    def __init__(self, base: str, names: Sequence[str], password: str) -> None:
        self.base, self.password = base, password
        self.students = {name: Student(base, name) for name in names}

    def get(self, name: str) -> Student:
        student = self.students[name]
        if student.session is None:
            student.login(self.password)
        return student

    def login_all(self, names: Sequence[str], threads: int = 4) -> None:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(self.get, set(names)))


# --- the two measurements --------------------------------------------------------------------------------
def _pick(picker: StudentPicker) -> tuple[str, float]:
    """A student, waiting (and saying so) if every student is at the rate limit; returns the seconds waited."""
    waited = 0.0
    while (name := picker.take(time.time())) is None:
        pause = picker.wait_s(time.time()) + 0.05
        waited += pause
        time.sleep(pause)
    return name, waited


def unique(source: str, tag: str) -> str:
    """Every submission a text of its own (a comment line), as a class's would be: nothing on the way may
    recognise a repeated text and skip its grading."""
    return f"{source.rstrip()}\n# {tag}\n"


def sequential(
    classroom: Classroom, picker: StudentPicker, source: str, n: int, warmup: int, timeout: float = 120
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for i in range(warmup + n):
        name, waited = _pick(picker)
        student = classroom.get(name)
        posted_at = time.time()
        t0 = time.perf_counter()
        run_id = student.submit(EXERCISE, unique(source, f"sequential {i}"))
        t_post = time.perf_counter() - t0
        polls = 0
        while True:
            status, verdict = student.status(run_id)
            polls += 1
            if status == "finished":
                break
            if time.perf_counter() - t0 > timeout:
                raise RuntimeError(f"run {run_id} not graded after {timeout} s")
            time.sleep(POLL_S)
        latency = time.perf_counter() - t0
        rows.append(
            {
                "run_id": run_id,
                "warmup": i < warmup,
                "posted_at": posted_at,
                "post_s": t_post,
                "latency_s": latency,
                "polls": polls,
                "verdict": verdict,
                "waited_for_rate_limit_s": waited,
            }
        )
        if (i + 1 - warmup) % 50 == 0 and i >= warmup:
            done = [r["latency_s"] for r in rows if not r["warmup"]]
            print(f"   {len(done)}/{n}: p50 so far {statistics.median(done) * 1e3:.0f} ms", flush=True)
    return rows


def stored_runs(run_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """created/started/finished (epoch seconds), verdict and the grader's own total, from the database."""
    from apps.lab.models import GradingRun

    out = {}
    for run in GradingRun.objects.filter(pk__in=list(run_ids)).only(
        "created_at", "started_at", "finished_at", "verdict", "status", "report"
    ):
        timings = (run.report or {}).get("timings", {})
        out[run.pk] = {
            "created_at": run.created_at.timestamp(),
            "started_at": run.started_at.timestamp() if run.started_at else None,
            "finished_at": run.finished_at.timestamp() if run.finished_at else None,
            "verdict": run.verdict,
            "status": run.status,
            "grade_total_s": timings.get("total_s"),
            "sandbox_cpu_s": (run.report or {}).get("sandbox", {}).get("cpu_s"),
            "failed_checks": _failed_checks(run.report),
        }
    return out


def _failed_checks(report: Mapping[str, Any] | None) -> list[dict[str, str]]:
    """The checks a stored report failed, with their messages (the reference solution should fail none: a
    benchmark that saw one must say which and why)."""
    checks = (report or {}).get("checks", [])
    return [{"id": c.get("id"), "message": c.get("message", "")} for c in checks if not c.get("passed")]


def unexpected(runs: Mapping[int, Mapping[str, Any]], run_ids: Sequence[int]) -> list[dict[str, Any]]:
    """Every run among ``run_ids`` that did not pass: its id, verdict and failed checks."""
    return [
        {"run_id": run_id, "verdict": runs[run_id]["verdict"], "failed_checks": runs[run_id]["failed_checks"]}
        for run_id in run_ids
        if runs[run_id]["verdict"] != "passed"
    ]


def wait_finished(run_ids: Sequence[int], timeout: float, poll_s: float = 0.05) -> float:
    """Block until every run is finished (one COUNT query per poll); returns time.time() when they were."""
    from apps.lab.models import GradingRun

    deadline = time.monotonic() + timeout
    pending = GradingRun.objects.filter(pk__in=list(run_ids)).exclude(status=GradingRun.Status.FINISHED)
    while (left := pending.count()) and time.monotonic() < deadline:
        time.sleep(poll_s)
    if left:
        raise RuntimeError(f"{left} of {len(run_ids)} runs not graded after {timeout:.0f} s")
    return time.time()


def burst(
    classroom: Classroom,
    picker: StudentPicker,
    source: str,
    n: int,
    threads: int,
    meter_groups: Mapping[str, Any],
    timeout: float = 600,
) -> dict[str, Any]:
    from benchmarks._stack import CpuMeter

    now = time.time()
    names = [picker.take(now) for _ in range(n)]
    if None in names:
        raise RuntimeError(f"not enough students for a burst of {n} within the rate limit: raise --students")
    per_student = collections.Counter(name for name in names if name is not None)
    classroom.login_all(list(per_student))

    def submit_all(name: str, k: int) -> list[tuple[float, float, int]]:
        student = classroom.get(name)
        out = []
        for j in range(k):
            posted_at = time.time()
            t0 = time.perf_counter()
            run_id = student.submit(EXERCISE, unique(source, f"burst {name} {j}"))
            out.append((posted_at, time.perf_counter() - t0, run_id))
        return out

    with CpuMeter(meter_groups) as meter:
        first_post = time.time()
        with ThreadPoolExecutor(threads) as pool:
            posts = [
                p for batch in pool.map(submit_all, *zip(*per_student.items(), strict=True)) for p in batch
            ]
        all_posted = time.time()
        all_done = wait_finished([run_id for _, _, run_id in posts], timeout)
    runs = stored_runs([run_id for _, _, run_id in posts])
    finished = [runs[run_id]["finished_at"] for _, _, run_id in posts]
    started = [runs[run_id]["started_at"] for _, _, run_id in posts]
    last = max(finished)
    latencies = [runs[run_id]["finished_at"] - posted_at for posted_at, _, run_id in posts]
    verdicts = collections.Counter(runs[run_id]["verdict"] for _, _, run_id in posts)
    grade = [r["grade_total_s"] for r in runs.values() if r["grade_total_s"] is not None]
    return {
        "n": n,
        "threads": threads,
        "students": len(per_student),
        "drain_per_s": n / (last - first_post),
        "last_verdict_s": last - first_post,
        "posting_s": all_posted - first_post,
        "worker_drain_per_s": n / (last - min(started)),
        "detected_done_after_s": all_done - first_post,
        **{k: v for k, v in summary(latencies).items() if k != "n"},
        "post_round_trip": summary([t for _, t, _ in posts]),
        "grade_total": summary(grade) if grade else None,
        "verdicts": dict(verdicts),
        "not_passed": unexpected(runs, [run_id for _, _, run_id in posts]),
        "cpu": meter.result(),
    }


def breakdown(rows: Sequence[dict[str, Any]], runs: Mapping[int, dict[str, Any]]) -> dict[str, Any]:
    """Where the time of a sequential submission goes (p50/p95 of each part)."""
    parts: dict[str, list[float]] = collections.defaultdict(list)
    for row in rows:
        run = runs[row["run_id"]]
        parts["post_round_trip"].append(row["post_s"])
        parts["queue_wait (started_at - created_at)"].append(run["started_at"] - run["created_at"])
        parts["grading (finished_at - started_at)"].append(run["finished_at"] - run["started_at"])
        if run["grade_total_s"] is not None:
            parts["  of which grader total_s"].append(run["grade_total_s"])
        parts["db (finished_at - created_at)"].append(run["finished_at"] - run["created_at"])
        parts["visible after stored (polling)"].append(
            row["posted_at"] + row["latency_s"] - run["finished_at"]
        )
    return {name: summary(xs) for name, xs in parts.items()}


# --- the run ---------------------------------------------------------------------------------------------
@dataclass
class Config:
    sequential: int = 200
    warmup: int = 5
    burst: int = 300
    students: int = 150
    threads: int = 32
    web_workers: int = 2
    worker_concurrency: int = 2  # the production topology's; the embedded one has `make run`'s (1)
    quick: bool = False
    topology: str = "both"


def default_path(topology: str, quick: bool) -> Path:
    """e2e.json for production and both (the production figures stay where their readers look); e2e-embedded.json
    for the embedded topology alone; ``-quick`` before the suffix for ``--quick``."""
    stem = "e2e-embedded" if topology == "embedded" else "e2e"
    return RESULTS / f"{stem}{'-quick' if quick else ''}.json"


def parse_args(argv: Sequence[str] | None) -> tuple[Config, Path]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks e2e", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--topology",
        choices=(*TOPOLOGIES, "both"),
        default="both",
        help="production (PostgreSQL + Redis), embedded (what `make run` starts) or both, side by side (default)",
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 20 sequential, 30 in the burst")
    parser.add_argument("-n", "--sequential", type=int, help="sequential submissions (default 200)")
    parser.add_argument("--burst", type=int, help="submissions in the burst (default 300)")
    parser.add_argument("--students", type=int, help="student accounts (default 150)")
    parser.add_argument("--threads", type=int, help="client threads posting the burst (default 32)")
    parser.add_argument("--out", type=Path, help="JSON path (default benchmarks/results/e2e.json)")
    args = parser.parse_args(argv)
    cfg = (
        Config(sequential=20, warmup=2, burst=30, students=20, threads=8, quick=True)
        if args.quick
        else Config()
    )
    cfg.topology = args.topology
    for name in ("sequential", "burst", "students", "threads"):
        if getattr(args, name):
            setattr(cfg, name, getattr(args, name))
    return cfg, args.out or default_path(cfg.topology, cfg.quick)


def child_argv(cfg: Config, topology: str, out: Path) -> list[str]:
    """The command that measures one topology of a ``both`` run with the same settings, saving to ``out``."""
    argv = [sys.executable, "-m", "benchmarks.e2e", "--topology", topology, "--out", str(out)]
    if cfg.quick:
        argv.append("--quick")  # its warm-up count
    for name in ("sequential", "burst", "students", "threads"):
        argv += [f"--{name}", str(getattr(cfg, name))]
    return argv


def run(cfg: Config) -> dict[str, Any]:
    import graders
    from benchmarks import _stack
    from benchmarks.reference.measure import machine_facts

    if cfg.topology not in TOPOLOGIES:
        raise ValueError(f"one topology at a time, not {cfg.topology!r}")
    source = graders.load_exercise(EXERCISE).solution
    load_at_start = list(os.getloadavg())
    opened = (
        _stack.embedded_stack()
        if cfg.topology == "embedded"
        else _stack.stack(
            database="memlab_bench_e2e",
            web_workers=cfg.web_workers,
            worker_concurrency=cfg.worker_concurrency,
        )
    )
    with opened as stack:
        from apps.lab.selectors import SUBMISSIONS_PER_WINDOW, WINDOW

        names = _stack.create_students(cfg.students)
        picker = StudentPicker(names, limit=SUBMISSIONS_PER_WINDOW - 1, window_s=WINDOW.total_seconds())
        classroom = Classroom(stack.base_url, names, _stack.STUDENT_PASSWORD)
        print(f"-- sequential: {cfg.warmup} warm-up + {cfg.sequential} submissions of {EXERCISE}", flush=True)
        rows = sequential(classroom, picker, source, cfg.sequential, cfg.warmup)
        runs = stored_runs([r["run_id"] for r in rows if not r["warmup"]])
        print(f"-- burst: {cfg.burst} submissions at once ({cfg.threads} client threads)", flush=True)
        groups = {
            "celery worker (pool, zygotes, jobs)": stack.services["worker"].pids,
            "gunicorn": stack.services["gunicorn"].pids,
            "benchmark client": lambda: [os.getpid()],
        }
        burst_result = burst(classroom, picker, source, cfg.burst, cfg.threads, groups)
        config = {
            **dataclasses.asdict(cfg),
            "web_workers": stack.web_workers,
            "worker_concurrency": stack.worker_concurrency,
            "exercise": EXERCISE,
            "solution": f"the exercise's reference solution (content/exercises/{EXERCISE}/solution.py)",
            "rate_limit": f"{SUBMISSIONS_PER_WINDOW} per {WINDOW.total_seconds():.0f} s per student and "
            "exercise (kept on; at most one less per student here)",
            "stack": stack.describe(),
        }
    machine = {**machine_facts(), "loadavg_at_start": load_at_start}
    return assemble(rows, runs, burst_result, machine=machine, config=config, topology=cfg.topology)


def assemble(
    rows: Sequence[dict[str, Any]],
    runs: Mapping[int, dict[str, Any]],
    burst_result: dict[str, Any],
    *,
    machine: dict[str, Any],
    config: dict[str, Any],
    topology: str = "production",
) -> dict[str, Any]:
    """The JSON of one topology: the sequential run's p50_s/p95_s/max_s at the top, the burst, the targets,
    machine, config."""
    measured = [r for r in rows if not r["warmup"]]
    seq = summary([r["latency_s"] for r in measured])
    verdicts = collections.Counter(runs[r["run_id"]]["verdict"] for r in measured)
    busy = burst_result["cpu"]["busy_per_core"]
    cores_busy = bool(busy) and min(busy.values()) >= TARGETS["core_busy_min"]
    return {
        "topology": topology,
        "p50_s": seq["p50_s"],
        "p95_s": seq["p95_s"],
        "max_s": seq["max_s"],
        "n": seq["n"],
        "sequential": {
            **seq,
            "poll_interval_s": POLL_S,
            "polls_per_submission_p50": statistics.median(r["polls"] for r in measured),
            "waited_for_rate_limit_s": sum(r["waited_for_rate_limit_s"] for r in rows),
            "verdicts": dict(verdicts),
            "not_passed": unexpected(runs, [r["run_id"] for r in measured]),
            "db_finished_minus_created": summary(
                [runs[r["run_id"]]["finished_at"] - runs[r["run_id"]]["created_at"] for r in measured]
            ),
            "breakdown": breakdown(measured, runs),
        },
        "burst": burst_result,
        "targets": {
            **TARGETS,
            "p50_met": seq["p50_s"] <= TARGETS["p50_max_s"],
            "p95_met": seq["p95_s"] <= TARGETS["p95_max_s"],
            "burst_drain_met": burst_result["drain_per_s"] >= TARGETS["burst_drain_min_per_s"],
            "both_cores_busy": cores_busy,
            "all_passed": set(verdicts) == {"passed"} and set(burst_result["verdicts"]) == {"passed"},
        },
        "machine": machine,
        "config": {
            **config,
            "poll_interval_s": POLL_S,
            "latency": "sequential: POST sent -> the run-status fragment shows the stored report (HTTP polling); "
            "burst: POST sent -> finished_at stored in the database",
        },
    }


def format_report(result: Mapping[str, Any]) -> str:
    seq, b, t = result["sequential"], result["burst"], result["targets"]

    def ms(seconds: float) -> str:
        return f"{seconds * 1e3:8.0f}"

    topology = result.get("topology", "production")
    lines = [
        f"end to end, {topology} ({LABELS.get(topology, topology)}), on {result['machine']['cores']} cores "
        f"({result['machine']['cpu']}), "
        f"1-min load {result['machine']['loadavg_at_start'][0]:.1f} at start; verdicts {seq['verdicts']} / {b['verdicts']}",
        f"{'measure':<40} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'n':>5}",
    ]
    lines.append(
        f"{'sequential: POST -> report visible':<40} {ms(seq['p50_s'])} {ms(seq['p95_s'])} {ms(seq['max_s'])} {seq['n']:5d}"
    )
    for name, s in seq["breakdown"].items():
        lines.append(f"{'  ' + name:<40} {ms(s['p50_s'])} {ms(s['p95_s'])} {ms(s['max_s'])} {s['n']:5d}")
    lines.append(
        f"{'burst: POST -> stored report':<40} {ms(b['p50_s'])} {ms(b['p95_s'])} {ms(b['max_s'])} {b['n']:5d}"
    )
    lines.append(
        f"{'  POST round trip':<40} {ms(b['post_round_trip']['p50_s'])} {ms(b['post_round_trip']['p95_s'])} {ms(b['post_round_trip']['max_s'])}"
    )
    if b["grade_total"]:
        g = b["grade_total"]
        lines.append(f"{'  grader total_s':<40} {ms(g['p50_s'])} {ms(g['p95_s'])} {ms(g['max_s'])}")
    cpu = b["cpu"]
    per_core = ", ".join(f"{k} {v:.0%}" for k, v in sorted(cpu["busy_per_core"].items()))
    by_proc = ", ".join(f"{k} {v:.1f}" for k, v in cpu["cpu_s_by_process"].items())
    lines += [
        f"burst of {b['n']}: drain {b['drain_per_s']:.1f} gradings/s, last verdict after {b['last_verdict_s']:.1f} s "
        f"(all POSTed in {b['posting_s']:.1f} s; worker alone {b['worker_drain_per_s']:.1f}/s)",
        f"CPU during the burst: {per_core}; CPU s: {by_proc}, machine {cpu['cpu_s_machine']:.1f} over {cpu['wall_s']:.1f} s",
        f"targets: p50 <= {t['p50_max_s'] * 1e3:.0f} ms {'met' if t['p50_met'] else 'NOT met'}; "
        f"p95 <= {t['p95_max_s'] * 1e3:.0f} ms {'met' if t['p95_met'] else 'NOT met'}; "
        f"drain >= {t['burst_drain_min_per_s']:.0f}/s {'met' if t['burst_drain_met'] else 'NOT met'}; "
        f"both cores busy (>= {t['core_busy_min']:.0%}): {'yes' if t['both_cores_busy'] else 'no'}",
    ]
    for run in seq["not_passed"] + b["not_passed"]:  # the reference solution: each one is a finding
        failed = "; ".join(f"{c['id']}: {c['message']}" for c in run["failed_checks"])
        lines.append(f"NOT PASSED run {run['run_id']} ({run['verdict']}): {failed}")
    return "\n".join(lines)


# --- both topologies, side by side -----------------------------------------------------------------------
def side_by_side_row(result: Mapping[str, Any]) -> dict[str, Any]:
    """The headline figures of one topology: sequential submit → verdict p50/p95/max, and the burst."""
    seq, b = result["sequential"], result["burst"]
    return {
        "stack": LABELS.get(result.get("topology", "production"), ""),
        "sequential_p50_s": seq["p50_s"],
        "sequential_p95_s": seq["p95_s"],
        "sequential_max_s": seq["max_s"],
        "sequential_n": seq["n"],
        "burst_n": b["n"],
        "burst_p50_s": b["p50_s"],
        "burst_p95_s": b["p95_s"],
        "burst_drain_per_s": b["drain_per_s"],
        "burst_last_verdict_s": b["last_verdict_s"],
        "all_passed": result["targets"]["all_passed"],
        # the burst's drain depends on these: the embedded worker has `make run`'s one pool process, and
        # another program's load on the machine slows either
        "worker_concurrency": result["config"].get("worker_concurrency"),
        "load_1min_at_start": result["machine"]["loadavg_at_start"][0],
    }


def combine(production: Mapping[str, Any], embedded: Mapping[str, Any]) -> dict[str, Any]:
    """One JSON for both: the production result at the top level, as every reader of e2e.json expects it, the
    embedded result whole under ``embedded``, and both rows under ``side_by_side``."""
    return {
        **production,
        "embedded": dict(embedded),
        "side_by_side": {"production": side_by_side_row(production), "embedded": side_by_side_row(embedded)},
    }


def format_side_by_side(rows: Mapping[str, Mapping[str, Any]]) -> str:
    """The two topologies' rows, one under the other, in milliseconds."""
    header = (
        f"{'topology':<11} {'stack':<34} {'seq p50':>8} {'seq p95':>8} {'seq max':>8} {'n':>4}"
        f" {'burst p50':>9} {'burst p95':>9} {'drain/s':>8} {'n':>4} {'pool':>4} {'load':>5}  verdicts"
    )
    lines = [
        "submit -> verdict, ms (sequential: POST -> report visible; burst: POST -> stored report); pool: the "
        "worker's processes; load: 1-min load average at start",
        header,
    ]
    for topology, r in rows.items():
        lines.append(
            f"{topology:<11} {r['stack']:<34} {r['sequential_p50_s'] * 1e3:8.0f} {r['sequential_p95_s'] * 1e3:8.0f}"
            f" {r['sequential_max_s'] * 1e3:8.0f} {r['sequential_n']:4d} {r['burst_p50_s'] * 1e3:9.0f}"
            f" {r['burst_p95_s'] * 1e3:9.0f} {r['burst_drain_per_s']:8.1f} {r['burst_n']:4d}"
            f" {r['worker_concurrency'] or '-':>4} {r['load_1min_at_start']:5.1f}"
            f"  {'all passed' if r['all_passed'] else 'NOT ALL PASSED'}"
        )
    return "\n".join(lines)


def run_both(cfg: Config, path: Path) -> int:
    """Each topology in an interpreter of its own, one after the other; then the two side by side in ``path``.
    A topology that saved nothing is named, and the other's figures are saved on their own."""
    from benchmarks._stack import run_child
    from benchmarks.reference.cli import write_json

    results: dict[str, dict[str, Any]] = {}
    codes: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="memlab-bench-e2e-") as tmp:
        for topology in TOPOLOGIES:
            print(f"== e2e, {topology} topology ==", flush=True)
            out = Path(tmp) / f"{topology}.json"
            codes[topology] = run_child(child_argv(cfg, topology, out))
            if codes[topology] == 130:
                return 130
            if out.exists():
                results[topology] = json.loads(out.read_text())
    missing = [t for t in TOPOLOGIES if t not in results]
    if missing:
        print(f"no result from the {', '.join(missing)} topology (exit {codes})", file=sys.stderr)
        for topology, result in results.items():
            print(f"saved to {write_json(result, default_path(topology, cfg.quick))}")
        return 1
    combined = combine(results["production"], results["embedded"])
    out_path = write_json(combined, path)
    print()
    print(format_side_by_side(combined["side_by_side"]))
    print(f"saved to {out_path}")
    return 0 if all(code == 0 for code in codes.values()) else 1


def main(argv: Sequence[str] | None = None) -> int:
    cfg, path = parse_args(argv)
    if cfg.topology == "both":
        return run_both(cfg, path)
    from benchmarks._stack import run_and_save

    result = run_and_save(run, format_report, cfg, path)
    if result is None:
        return 130
    return 0 if result["targets"]["all_passed"] else 1


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)  # skip torch's slow teardown (machine_facts imports it)
