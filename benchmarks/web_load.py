"""The web under load: Locust, headless, 100 virtual students against gunicorn + PostgreSQL (DEBUG off).

``python -m benchmarks web_load`` brings up a fresh PostgreSQL database (migrated, course synced) and gunicorn
(2 sync workers) as benchmarks/_stack.py does for the end-to-end benchmark, without a worker: every student gets,
through the ORM, one graded run (a real report of the reference solution, graded once beforehand) and one run
still queued. Each virtual student logs in through the login form, then, with 1–3 s of thinking between actions,
opens the dashboard, concept pages, the course map and an exercise page, and watches a run: the status endpoint
polled every 500 ms as the page does, six times for the queued run, once for the graded one (the final poll, with
the report). Logins (PBKDF2, ~0.3 s of CPU each) are measured apart: nobody browses until every student is
logged in; then, after 5 s of browsing to spread the students out, the statistics are reset and the load runs
``--duration`` seconds (default 60).

Locust runs in this process (one core at most, gevent) and competes with gunicorn and PostgreSQL for the same 2
cores: the CPU each used is recorded beside the numbers. Target (issue 7): p99 ≤ 100 ms with no errors. Prints a
table; writes ``benchmarks/results/web_load.json`` (``--quick``: 20 students, 15 s, ``web_load-quick.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
EXERCISE = "cumulative-average-memory"
TARGETS = {"p99_max_ms": 100.0, "errors_max": 0}
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
POLL_EVERY_S = 0.5  # hx-trigger="every 500ms" in templates/lab/run_detail.html
PENDING_POLLS = 6


@dataclass
class Config:
    users: int = 100
    duration: float = 60.0
    spawn_rate: float = 10.0
    wait_min: float = 1.0
    wait_max: float = 3.0
    warmup: float = 5.0  # of browsing after the logins, before the statistics start
    web_workers: int = 2
    quick: bool = False


# --- Locust's numbers as plain data ----------------------------------------------------------------------
PERCENTILES = {"p50_ms": 0.5, "p95_ms": 0.95, "p99_ms": 0.99}


def endpoint_row(entry: Any, duration_s: float) -> dict[str, Any]:
    """One Locust StatsEntry (per endpoint, or the total) as JSON: percentiles in ms, rate, errors."""
    n = entry.num_requests
    row: dict[str, Any] = {
        "requests": n,
        "errors": entry.num_failures,
        "error_rate": entry.num_failures / n if n else 0.0,
        "requests_per_s": n / duration_s if duration_s > 0 else 0.0,
        "avg_ms": entry.avg_response_time,
        "max_ms": entry.max_response_time if n else None,
    }
    for key, q in PERCENTILES.items():
        row[key] = entry.get_response_time_percentile(q) if n else None
    return row


def stats_rows(stats: Any, duration_s: float) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Per endpoint ("GET /map/") and total rows of a Locust RequestStats."""
    endpoints = {
        f"{entry.method} {entry.name}": endpoint_row(entry, duration_s)
        for entry in sorted(stats.entries.values(), key=lambda e: (e.name, e.method))
        if entry.num_requests  # after the reset, the login entries are empty
    }
    return endpoints, endpoint_row(stats.total, duration_s)


def targets(total: Mapping[str, Any]) -> dict[str, Any]:
    p99_met = total["p99_ms"] is not None and total["p99_ms"] <= TARGETS["p99_max_ms"]
    errors_met = total["errors"] <= TARGETS["errors_max"]
    return {**TARGETS, "p99_met": p99_met, "errors_met": errors_met, "met": p99_met and errors_met}


class Timeline:
    """Per second since ``start``: requests, how many took longer than ``slow_ms``, the slowest (a Locust
    ``request`` event listener)."""

    def __init__(self, start: float, slow_ms: float, clock: Callable[[], float] = time.time) -> None:
        self.start, self.slow_ms, self.clock = start, slow_ms, clock
        self.seconds: dict[int, list[float]] = {}

    def add(self, response_time: float | None = None, **_: Any) -> None:
        if response_time is None:
            return
        row = self.seconds.setdefault(int(self.clock() - self.start), [0, 0, 0.0])
        row[0] += 1
        row[1] += response_time > self.slow_ms
        row[2] = max(row[2], response_time)

    def rows(self) -> list[list[float]]:
        return [
            [second, n, slow, round(worst, 1)] for second, (n, slow, worst) in sorted(self.seconds.items())
        ]


# --- the virtual student ---------------------------------------------------------------------------------
def student_class(base_url: str, names: list[str], password: str, site: Mapping[str, Any]) -> type:
    """A Locust FastHttpUser class: each instance takes the next student account (and that student's runs)."""
    from locust import between, task
    from locust.contrib.fasthttp import FastHttpUser

    accounts = list(names)
    logged_in = site["logged_in"]  # a one-item list, counted up by every login

    class VirtualStudent(FastHttpUser):
        host = base_url
        wait_time = between(site["wait_min"], site["wait_max"])

        def on_start(self) -> None:
            self.username = accounts.pop()
            self.graded_run, self.queued_run = site["runs"][self.username]
            page = self.client.get("/accounts/login/", name="login form")
            token = CSRF_INPUT.search(page.text or "")
            form = {
                "username": self.username,
                "password": password,
                "next": "",
                "csrfmiddlewaretoken": token.group(1) if token else "",
            }
            with self.client.post(
                "/accounts/login/", data=form, name="login", allow_redirects=False, catch_response=True
            ) as response:
                if response.status_code != 302:
                    response.failure(f"login failed: HTTP {response.status_code}")
            logged_in[0] += 1
            site[
                "go"
            ].wait()  # nobody browses until everyone is in (logins would queue every page behind them)
            time.sleep(random.uniform(0, site["wait_max"]))  # then not all at once

        @task(2)
        def dashboard(self) -> None:
            self.client.get("/", name="/ (dashboard)")

        @task(3)
        def concept(self) -> None:
            self.client.get(f"/concepts/{random.choice(site['concepts'])}/", name="/concepts/[slug]/")

        @task(1)
        def course_map(self) -> None:
            self.client.get("/map/", name="/map/")

        @task(2)
        def exercise(self) -> None:
            self.client.get(f"/exercises/{random.choice(site['exercises'])}/", name="/exercises/[slug]/")

        @task(3)
        def watch_queued_run(self) -> None:
            """The page's htmx poll of a run still in the queue (the fragment with the spinner)."""
            for _ in range(PENDING_POLLS):
                self.client.get(
                    f"/runs/{self.queued_run}/status/",
                    name="/runs/[id]/status/ (queued)",
                    headers={"HX-Request": "true"},
                )
                time.sleep(POLL_EVERY_S)  # gevent-patched: yields to the other students

        @task(2)
        def see_graded_run(self) -> None:
            """The last poll of a run: the fragment with the whole report."""
            self.client.get(
                f"/runs/{self.graded_run}/status/",
                name="/runs/[id]/status/ (graded)",
                headers={"HX-Request": "true"},
            )

    return VirtualStudent


# --- the site's data -------------------------------------------------------------------------------------
def graded_report() -> dict[str, Any]:
    """A real report of the exercise's reference solution, graded once by the grader's CLI (in its own process:
    this one runs gevent)."""
    solution = Path(__file__).resolve().parent.parent / "content" / "exercises" / EXERCISE / "solution.py"
    done = subprocess.run(
        [sys.executable, "-m", "graders", "grade", EXERCISE, str(solution), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def seed(names: Sequence[str]) -> dict[str, Any]:
    """Per student one graded and one queued run of EXERCISE (through the ORM: no worker, nothing enqueued)."""
    import hashlib

    from django.utils import timezone

    from apps.accounts.models import User
    from apps.course.models import Concept
    from apps.lab.models import Exercise, GradingRun, Submission

    report = graded_report()
    exercise = Exercise.objects.get(slug=EXERCISE)
    source = exercise.spec["solution"]
    digest = hashlib.sha256(source.encode()).hexdigest()
    users = list(User.objects.filter(username__in=names))
    submissions = Submission.objects.bulk_create(
        [Submission(user=u, exercise=exercise, source=source, sha256=digest) for u in users for _ in range(2)]
    )
    now = timezone.now()
    runs = GradingRun.objects.bulk_create(
        [
            GradingRun(submission=s, status=GradingRun.Status.QUEUED)
            if i % 2
            else GradingRun(
                submission=s,
                status=GradingRun.Status.FINISHED,
                verdict=report["verdict"],
                score=report["score"],
                report=report,
                started_at=now,
                finished_at=now,
                attempt=1,
            )
            for i, s in enumerate(submissions)
        ]
    )
    by_user: dict[str, tuple[int, int]] = {}
    for u, (graded, queued) in zip(users, zip(runs[::2], runs[1::2], strict=True), strict=True):
        by_user[u.username] = (graded.pk, queued.pk)
    return {
        "runs": by_user,
        "concepts": list(Concept.objects.values_list("slug", flat=True)),
        "exercises": list(Exercise.objects.values_list("slug", flat=True)),
    }


# --- the run ---------------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> tuple[Config, Path]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks web_load", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 20 students for 15 s")
    parser.add_argument("--users", type=int, help="virtual students (default 100)")
    parser.add_argument("--duration", type=float, help="seconds of load after every student logged in (60)")
    parser.add_argument("--out", type=Path, help="JSON path (default benchmarks/results/web_load.json)")
    args = parser.parse_args(argv)
    cfg = Config(users=20, duration=15.0, quick=True) if args.quick else Config()
    if args.users:
        cfg.users = args.users
    if args.duration:
        cfg.duration = args.duration
    return cfg, args.out or RESULTS / ("web_load-quick.json" if cfg.quick else "web_load.json")


def run(cfg: Config) -> dict[str, Any]:
    import gevent  # locust was imported first (main): the process is monkey-patched
    import gevent.event
    from locust import events
    from locust.env import Environment

    from benchmarks import _stack
    from benchmarks.reference.measure import machine_facts

    load_at_start = list(os.getloadavg())
    with _stack.stack(
        database="memlab_bench_web", web_workers=cfg.web_workers, worker_concurrency=None
    ) as stack:
        names = _stack.create_students(cfg.users, prefix="load-student-")
        site = {
            **seed(names),
            "wait_min": cfg.wait_min,
            "wait_max": cfg.wait_max,
            "logged_in": [0],
            "go": gevent.event.Event(),
        }
        user_class = student_class(stack.base_url, names, _stack.STUDENT_PASSWORD, site)
        env = Environment(user_classes=[user_class], events=events, host=stack.base_url)
        runner = env.create_local_runner()
        print(f"-- {cfg.users} virtual students logging in ({cfg.spawn_rate:.0f}/s)", flush=True)
        t0 = time.perf_counter()
        runner.start(cfg.users, spawn_rate=cfg.spawn_rate)
        while site["logged_in"][0] < cfg.users:
            if time.perf_counter() - t0 > 300:
                raise RuntimeError(
                    f"only {site['logged_in'][0]} of {cfg.users} students logged in after 300 s"
                )
            gevent.sleep(0.2)
        login_s = time.perf_counter() - t0
        login_endpoints, _ = stats_rows(env.stats, login_s)
        print(
            f"-- all logged in after {login_s:.0f} s; {cfg.warmup:.0f} s of browsing unmeasured", flush=True
        )
        site["go"].set()
        gevent.sleep(cfg.warmup)
        env.stats.reset_all()
        groups = {"gunicorn": stack.services["gunicorn"].pids, "locust (this process)": lambda: [os.getpid()]}
        print(f"-- load for {cfg.duration:.0f} s", flush=True)
        cpu_warnings_before = runner.cpu_warning_emitted
        timeline = Timeline(time.time(), TARGETS["p99_max_ms"])
        events.request.add_listener(timeline.add)
        with _stack.CpuMeter(groups) as meter:
            gevent.sleep(cfg.duration)
        events.request.remove_listener(timeline.add)
        endpoints, total = stats_rows(env.stats, meter.t1 - meter.t0)
        errors = [
            {"name": e.name, "method": e.method, "error": str(e.error), "occurrences": e.occurrences}
            for e in env.stats.errors.values()
        ]
        runner.quit()
        stack_description = stack.describe()
    return {
        "p50_ms": total["p50_ms"],
        "p99_ms": total["p99_ms"],
        "error_rate": total["error_rate"],
        "total": total,
        "endpoints": endpoints,
        "errors": errors,
        "timeline": {
            "columns": ["second", "requests", f"over {TARGETS['p99_max_ms']:.0f} ms", "max ms"],
            "rows": timeline.rows(),
            "note": "per second of the measured load: shows whether slow requests came in spells (other load "
            "on the machine) or evenly",
        },
        "login_phase": {
            "seconds": login_s,
            "note": "nobody browses until every student is logged in; logins are PBKDF2 and not in the totals",
            "endpoints": {k: v for k, v in login_endpoints.items() if k.endswith(("login", "login form"))},
        },
        "cpu": {
            **meter.result(),
            "locust_cpu_warning": bool(runner.cpu_warning_emitted or cpu_warnings_before),
            "note": "Locust, gunicorn and PostgreSQL share the same cores: Locust's own CPU is in cpu_s_by_process",
        },
        "targets": targets(total),
        "machine": {**machine_facts(), "loadavg_at_start": load_at_start},
        "config": {
            "users": cfg.users,
            "duration_s": cfg.duration,
            "spawn_rate_per_s": cfg.spawn_rate,
            "think_time_s": [cfg.wait_min, cfg.wait_max],
            "pending_polls": f"{PENDING_POLLS} polls every {POLL_EVERY_S} s",
            "gunicorn_workers": cfg.web_workers,
            "user": "locust FastHttpUser; logs in, then tasks by weight: dashboard 2, concept 3, map 1, "
            "exercise 2, watch queued run 3, graded run's status 2",
            "measured": f"after every student logged in and {cfg.warmup:.0f} s more of browsing",
            "stack": stack_description,
            "quick": cfg.quick,
        },
    }


def format_report(result: Mapping[str, Any]) -> str:
    def cells(row: Mapping[str, Any]) -> str:
        pct = " ".join(f"{row[k]:8.0f}" if row[k] is not None else f"{'-':>8}" for k in PERCENTILES)
        return f"{pct} {row['requests_per_s']:8.1f} {row['requests']:7d} {row['errors']:6d}"

    cpu = result["cpu"]
    per_core = ", ".join(f"{k} {v:.0%}" for k, v in sorted(cpu["busy_per_core"].items()))
    by_proc = ", ".join(f"{k} {v:.1f}" for k, v in cpu["cpu_s_by_process"].items())
    t = result["targets"]
    rows = result["timeline"]["rows"]
    slow_seconds = sum(1 for row in rows if row[2])
    lines = [
        f"{result['config']['users']} virtual students for {result['config']['duration_s']:.0f} s on "
        f"{result['machine']['cores']} cores, 1-min load {result['machine']['loadavg_at_start'][0]:.1f} at start",
        f"{'endpoint':<38} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>8} {'n':>7} {'errors':>6}",
    ]
    lines += [f"{name:<38} {cells(row)}" for name, row in result["endpoints"].items()]
    lines.append(f"{'total':<38} {cells(result['total'])}")
    lines += [
        f"error rate {result['total']['error_rate']:.2%}; CPU: {per_core}; CPU s: {by_proc}, machine "
        f"{cpu['cpu_s_machine']:.1f} over {cpu['wall_s']:.0f} s",
        f"seconds with a request over {t['p99_max_ms']:.0f} ms: {slow_seconds} of {len(rows)} (timeline in the JSON)",
        f"target: p99 <= {t['p99_max_ms']:.0f} ms {'met' if t['p99_met'] else 'NOT met'}; "
        f"no errors {'met' if t['errors_met'] else 'NOT met'}",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    import locust  # noqa: F401  (first: it monkey-patches the process for gevent)

    cfg, path = parse_args(argv)
    from benchmarks._stack import run_and_save

    return 130 if run_and_save(run, format_report, cfg, path) is None else 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)  # skip torch's slow teardown (machine_facts imports it)
