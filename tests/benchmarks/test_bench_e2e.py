"""The end-to-end and web-load benchmarks' plumbing: percentiles, the rate-limit-aware choice of students, parsing
the app's real fragments, the JSON they write, and that a started service is stopped whole. No timing assertions
(benchmarks are not tests); the benchmarks themselves are not run here: even ``--quick`` brings up PostgreSQL,
Redis, gunicorn and a worker that loads torch (about 35 s), too slow for ``make test``."""

from __future__ import annotations

import configparser
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psutil
import pytest
from django.urls import reverse

from benchmarks import _stack, e2e, web_load
from benchmarks.reference.cli import write_json
from tests.support.services import require_service

SUBMIT = reverse("lab:submit", args=[e2e.EXERCISE])
HTMX = {"HX-Request": "true"}
GOOD = "def init_memory(d):\n    ...\n\n\ndef update(mem, k, v):\n    ...\n"


def test_percentiles_are_nearest_rank() -> None:
    xs = [float(i) for i in range(1, 101)]  # 1..100
    assert e2e.percentile(xs, 0.95) == 95.0 and e2e.percentile(xs, 1.0) == 100.0
    assert e2e.percentile(xs, 0.0) == 1.0 and e2e.percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    s = e2e.summary([0.4, 0.1, 0.3, 0.2])
    assert s == {"p50_s": 0.25, "p95_s": 0.4, "min_s": 0.1, "max_s": 0.4, "mean_s": 0.25, "n": 4}
    with pytest.raises(ValueError):
        e2e.percentile([], 0.5)


def test_the_picker_never_puts_a_student_over_the_limit() -> None:
    picker = e2e.StudentPicker(["a", "b", "c"], limit=2, window_s=60)
    taken = [picker.take(now=100.0) for _ in range(7)]
    assert taken[:6] == ["a", "b", "c", "a", "b", "c"] and taken[6] is None
    assert picker.wait_s(now=130.0) == pytest.approx(30.0)
    assert picker.take(now=159.9) is None
    assert picker.take(now=160.0) == "a"  # a's first submission left the window
    assert picker.wait_s(now=160.0) == 0.0


def test_the_picker_takes_the_least_recently_used_student_with_room() -> None:
    picker = e2e.StudentPicker(["a", "b"], limit=1, window_s=10)
    assert [picker.take(now=t) for t in (0.0, 1.0, 2.0, 10.5, 11.5)] == ["a", "b", None, "a", "b"]


@pytest.fixture
def sent(monkeypatch):  # type: ignore[no-untyped-def]
    from config.celery import app

    monkeypatch.setattr(app, "send_task", lambda name, args, queue: None)


def test_the_parsers_read_the_apps_own_fragments(logged_in, sent) -> None:  # type: ignore[no-untyped-def]
    """The benchmark finds the run id in the submit response and the verdict in the status fragment."""
    from apps.lab import services
    from apps.lab.models import GradingRun

    response = logged_in.post(SUBMIT, {"code": GOOD}, headers=HTMX)
    run = GradingRun.objects.get()
    assert e2e.parse_run_id(response.content.decode()) == run.pk
    status_url = reverse("lab:run-status", args=[run.pk])
    assert e2e.parse_status(logged_in.get(status_url, headers=HTMX).content.decode()) == ("queued", None)
    claimed = services.run_claim(run_id=run.pk)
    assert claimed is not None
    services.run_finish(run=claimed, report={"verdict": "passed", "score": 1.0, "checks": []})
    assert e2e.parse_status(logged_in.get(status_url, headers=HTMX).content.decode()) == (
        "finished",
        "passed",
    )


def test_a_refused_submission_has_no_run_id(logged_in, sent) -> None:  # type: ignore[no-untyped-def]
    response = logged_in.post(SUBMIT, {"code": ""}, headers=HTMX)
    assert e2e.parse_run_id(response.content.decode()) is None


def test_the_login_form_carries_the_token_locust_reads(client, db) -> None:  # type: ignore[no-untyped-def]
    page = client.get(reverse("accounts:login")).content.decode()
    match = web_load.CSRF_INPUT.search(page)
    assert match is not None and len(match.group(1)) > 20


def _cpu() -> dict[str, Any]:
    return {
        "busy_per_core": {"cpu0": 0.95, "cpu1": 0.9},
        "busy_all_cores": 0.925,
        "cpu_s_by_process": {"celery worker": 1.5, "gunicorn": 0.1},
        "cpu_s_machine": 1.9,
        "wall_s": 1.0,
        "loadavg_1_5_15min_at_end": [1.0, 1.0, 1.0],
    }


def _result(topology: str = "production", slower: float = 0.0, drain: float = 25.0) -> dict[str, Any]:
    """One topology's result from made-up rows: latencies 0.2..0.24 s (+ ``slower``), the first a warm-up."""
    rows = [
        {"run_id": i, "warmup": i == 0, "posted_at": 1000.0 + i, "post_s": 0.01, "latency_s": 0.2 + i / 100 + slower,
         "polls": 12, "verdict": "passed", "waited_for_rate_limit_s": 0.0}
        for i in range(5)
    ]  # fmt: skip
    runs = {
        i: {"created_at": 1000.0 + i + 0.01, "started_at": 1000.0 + i + 0.02, "finished_at": 1000.0 + i + 0.19,
            "verdict": "passed", "status": "finished", "grade_total_s": 0.15, "sandbox_cpu_s": 0.1}
        for i in range(5)
    }  # fmt: skip
    burst = {
        "n": 3, "drain_per_s": drain, "last_verdict_s": 0.12, "p50_s": 0.1, "p95_s": 0.11, "max_s": 0.12,
        "post_round_trip": e2e.summary([0.01, 0.02]), "grade_total": e2e.summary([0.1]),
        "verdicts": {"passed": 3}, "not_passed": [], "posting_s": 0.05, "worker_drain_per_s": 26.0, "cpu": _cpu(),
    }  # fmt: skip
    machine = {"cores": 2, "cpu": "test", "loadavg_at_start": [0.5]}
    config = {"worker_concurrency": 1 if topology == "embedded" else 2}
    return e2e.assemble(rows, runs, burst, machine=machine, config=config, topology=topology)


def test_the_e2e_json_has_the_issues_keys(tmp_path: Path) -> None:
    data = json.loads(write_json(_result(), tmp_path / "e2e.json").read_text())

    assert {"p50_s", "p95_s", "max_s", "n", "burst", "targets", "machine", "config"} <= set(data)
    assert data["topology"] == "production"
    assert data["n"] == 4 and data["max_s"] == pytest.approx(0.24)  # the warm-up is left out
    assert {"n", "drain_per_s", "last_verdict_s", "p50_s", "p95_s", "max_s"} <= set(data["burst"])
    t = data["targets"]
    assert t["p50_met"] and t["p95_met"] and t["burst_drain_met"] and t["both_cores_busy"] and t["all_passed"]
    parts = data["sequential"]["breakdown"]
    assert parts["grading (finished_at - started_at)"]["p50_s"] == pytest.approx(0.17)
    assert parts["visible after stored (polling)"]["n"] == 4
    table = e2e.format_report(data)
    assert "sequential: POST -> report visible" in table and "drain 25.0 gradings/s" in table
    assert data["sequential"]["not_passed"] == [] and "NOT PASSED" not in table
    # a run of the reference solution that did not pass is a finding: named, with its failed checks
    data["burst"]["not_passed"] = [
        {
            "run_id": 7,
            "verdict": "failed",
            "failed_checks": [{"id": "step_cost", "message": "grew as steps^1.8"}],
        }
    ]
    assert "NOT PASSED run 7 (failed): step_cost: grew as steps^1.8" in e2e.format_report(data)


def test_both_topologies_keep_the_production_figures_where_readers_look(tmp_path: Path) -> None:
    """e2e.json of a ``both`` run: the production result at the top level (README, earlier readers), the embedded
    one whole under ``embedded``, and the two headline rows under ``side_by_side``, printed one under the other."""
    production, embedded = _result("production"), _result("embedded", slower=0.5, drain=6.5)
    data = json.loads(write_json(e2e.combine(production, embedded), tmp_path / "e2e.json").read_text())

    assert data["topology"] == "production" and data["p50_s"] == pytest.approx(0.225)
    assert data["embedded"]["topology"] == "embedded" and data["embedded"]["p50_s"] == pytest.approx(0.725)
    grading = "grading (finished_at - started_at)"  # the same made-up stored runs; only the latencies differ
    assert data["embedded"]["sequential"]["breakdown"][grading] == data["sequential"]["breakdown"][grading]
    rows = data["side_by_side"]
    assert list(rows) == ["production", "embedded"]
    assert rows["production"]["sequential_p95_s"] == pytest.approx(0.24)
    assert rows["embedded"]["sequential_p95_s"] == pytest.approx(0.74)
    assert rows["embedded"]["burst_drain_per_s"] == 6.5 and rows["embedded"]["all_passed"]
    assert rows["embedded"]["worker_concurrency"] == 1 and rows["production"]["worker_concurrency"] == 2

    table = e2e.format_side_by_side(rows).splitlines()
    assert "seq p50" in table[1] and "seq p95" in table[1]
    production_line, embedded_line = table[2], table[3]
    assert production_line.split()[:1] == ["production"] and "PostgreSQL" in production_line
    assert embedded_line.split()[:1] == ["embedded"] and "SQLite" in embedded_line
    assert " 725 " in embedded_line and " 740 " in embedded_line and " 6.5 " in embedded_line
    assert " 225 " in production_line and " 240 " in production_line
    assert "end to end, embedded (SQLite" in e2e.format_report(data["embedded"])


def test_the_topology_option_and_where_each_result_is_saved() -> None:
    cfg, path = e2e.parse_args([])
    assert cfg.topology == "both" and path == e2e.RESULTS / "e2e.json"
    cfg, path = e2e.parse_args(["--topology", "embedded", "--quick"])
    assert cfg.topology == "embedded" and path == e2e.RESULTS / "e2e-embedded-quick.json"
    cfg, path = e2e.parse_args(["--topology", "production", "--quick", "--out", "/tmp/x.json"])
    assert cfg.topology == "production" and path == Path("/tmp/x.json")
    assert e2e.parse_args(["--quick"])[1] == e2e.RESULTS / "e2e-quick.json"
    with pytest.raises(SystemExit):
        e2e.parse_args(["--topology", "docker"])
    with pytest.raises(ValueError, match="one topology at a time"):
        e2e.run(e2e.Config(topology="both"))


def test_each_topology_of_both_runs_with_the_same_settings(tmp_path: Path) -> None:
    cfg, _ = e2e.parse_args(["--quick", "--burst", "12"])
    argv = e2e.child_argv(cfg, "embedded", tmp_path / "embedded.json")
    assert argv[:3] == [sys.executable, "-m", "benchmarks.e2e"] and "--quick" in argv
    child, path = e2e.parse_args(argv[3:])
    assert path == tmp_path / "embedded.json" and child.topology == "embedded"
    assert (
        dataclasses.replace(child, topology="both") == cfg
    )  # 20 sequential, 2 warm-up, 12 in the burst, ...


def test_a_run_that_did_not_pass_is_listed_with_its_failed_checks() -> None:
    runs: dict[int, dict[str, Any]] = {
        1: {"verdict": "passed", "failed_checks": []},
        2: {"verdict": "failed", "failed_checks": [{"id": "purity", "message": "changed its argument"}]},
    }
    assert e2e.unexpected(runs, [1, 2]) == [
        {
            "run_id": 2,
            "verdict": "failed",
            "failed_checks": [{"id": "purity", "message": "changed its argument"}],
        }
    ]
    report = {
        "checks": [{"id": "interface", "passed": True}, {"id": "purity", "passed": False, "message": "m"}]
    }
    assert e2e._failed_checks(report) == [{"id": "purity", "message": "m"}]


def _entry(name: str, n: int, failures: int = 0, p: float = 10.0) -> SimpleNamespace:
    return SimpleNamespace(
        name=name,
        method="GET",
        num_requests=n,
        num_failures=failures,
        avg_response_time=p,
        max_response_time=3 * p,
        get_response_time_percentile=lambda q: p * (1 + q),
    )


def test_web_load_rows_rates_and_targets() -> None:
    stats = SimpleNamespace(
        entries={("/map/", "GET"): _entry("/map/", 30), ("login", "GET"): _entry("login", 0)},
        total=_entry("Aggregated", 30, failures=3, p=60.0),
    )
    endpoints, total = web_load.stats_rows(stats, duration_s=10.0)
    assert list(endpoints) == ["GET /map/"]  # the emptied login entry is left out
    assert endpoints["GET /map/"]["requests_per_s"] == 3.0 and endpoints["GET /map/"]["p99_ms"] == 19.9
    assert total["error_rate"] == pytest.approx(0.1) and total["p99_ms"] == pytest.approx(119.4)
    t = web_load.targets(total)
    assert not t["p99_met"] and not t["errors_met"] and not t["met"]
    fine = web_load.targets({**total, "p99_ms": 80.0, "errors": 0})
    assert fine["met"] and fine["p99_max_ms"] == 100.0


def test_the_timeline_counts_slow_requests_per_second() -> None:
    clock = [0.0]
    timeline = web_load.Timeline(start=100.0, slow_ms=100.0, clock=lambda: clock[0])
    for now, ms in ((100.2, 20.0), (100.9, 150.0), (102.5, 90.0), (102.6, None)):
        clock[0] = now
        timeline.add(request_type="GET", name="/", response_time=ms, response_length=0, exception=None)
    assert timeline.rows() == [[0, 2, 1, 150.0], [2, 1, 0, 90.0]]


def test_importing_the_web_load_benchmark_does_not_patch_this_process() -> None:
    """Locust monkey-patches the process for gevent on import: only the benchmark's main may import it."""
    code = "import benchmarks.web_load, sys; print('locust' in sys.modules or 'gevent' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=_stack.REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_busy_fractions_per_core() -> None:
    before = {"cpu": (100, 400), "cpu0": (50, 200), "cpu1": (50, 200)}
    after = {"cpu": (400, 800), "cpu0": (250, 400), "cpu1": (150, 400)}
    assert _stack.busy_fractions(before, after) == {"cpu": 0.75, "cpu0": 1.0, "cpu1": 0.5}
    assert {"cpu", "cpu0"} <= set(_stack.proc_stat())  # Linux: the sandbox needs it anyway


def test_stopping_a_service_ends_its_group_and_descendants_in_other_sessions(tmp_path: Path) -> None:
    """Like the worker's sandbox zygotes, which start sessions of their own: none may outlive the benchmark."""
    script = "setsid sleep 300 & sleep 300 & echo started; wait"
    service = _stack.Service.start("sleepers", ["bash", "-c", script], dict(os.environ), tmp_path / "log")
    _stack.wait_until("the sleepers", lambda: "started" in service.tail(), service=service, timeout=10)
    time.sleep(0.2)
    procs = [psutil.Process(pid) for pid in service.pids()]
    assert len(procs) == 3  # bash, its sleep, the setsid'd sleep
    service.stop(timeout=5)
    assert not [p for p in procs if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def test_the_embedded_stack_starts_supervisords_command_lines() -> None:
    """The benchmark's embedded programs are config/supervisord.conf's, not a look-alike: same command, same
    folder (embedded_stack starts them in the order of their priorities: broker, worker, web)."""
    conf = configparser.RawConfigParser()
    conf.read(_stack.REPO / "config" / "supervisord.conf")
    programs = sorted(
        (int(conf[f"program:{name}"]["priority"]), name)
        for name in conf["group:memlab"]["programs"].split(",")
    )
    assert [name for _, name in programs] == ["broker", "worker", "web"]
    for _, name in programs:
        section = conf[f"program:{name}"]
        command = section["command"].replace("%(ENV_MEMLAB_PYTHON)s", sys.executable).split()
        assert _stack.embedded_command(name) == command
        assert section["directory"] == "%(ENV_MEMLAB_REPO)s"


def test_the_embedded_environment_is_make_runs_not_this_shells(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from config import embedded

    monkeypatch.setenv("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/elsewhere")
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:6379/3")
    var = tmp_path / "var"
    env = _stack.embedded_env(var, port=8123)

    assert "DATABASE_URL" not in env  # SQLite under MEMLAB_VAR_DIR
    assert env["CELERY_BROKER_URL"] == embedded.broker_url(var) and env["MEMLAB_BROKER_AUTOSTART"] == "true"
    assert env["MEMLAB_VAR_DIR"] == str(var) and env["MEMLAB_PORT"] == "8123"
    assert env["MEMLAB_SANDBOX_SLOT_BASE"] == "985" and env["DJANGO_DEBUG"] == "1"  # bin/run-local's default
    assert env["MEMLAB_PYTHON"] == sys.executable and env["MEMLAB_REPO"] == str(_stack.REPO)
    assert os.environ["DATABASE_URL"].endswith("/elsewhere")  # this process's environment is left as it was


def test_the_embedded_broker_answers_on_its_socket_and_is_stopped(tmp_path: Path) -> None:
    """`make run`'s private Redis as the embedded stack starts it: PING on the unix socket, gone after stop."""
    import redis

    from config import embedded

    var = tmp_path / "var"
    (var / "redis").mkdir(parents=True)
    env = _stack.embedded_env(var, port=_stack.free_port())
    broker = _stack.start_embedded_broker(env, tmp_path)
    try:
        client = redis.Redis(unix_socket_path=str(embedded.broker_socket(var)))
        assert client.set("k", "v") and client.get("k") == b"v"
        client.close()
        assert any((var / "redis").iterdir())  # the append-only file lives under var/
    finally:
        broker.stop(timeout=10)
    assert broker.process.returncode is not None
    assert not _stack._redis_answers(embedded.broker_socket(var))


def test_ctrl_c_lets_a_benchmark_finish_its_teardown(tmp_path: Path) -> None:
    """Ctrl-C reaches the whole process group: the runner must wait while the benchmark stops its stack, not kill
    it 0.25 s later as subprocess.run does (its services would outlive it)."""
    done = tmp_path / "torn-down"
    # "started" comes 0.5 s after the exec, by when the runner's Popen has returned and it waits on the child
    child = (
        f"trap 'sleep 1; touch {done}; exit 130' INT; sleep 0.5; echo started; while :; do sleep 0.05; done"
    )
    runner = f"from benchmarks._stack import run_child; print('exit', run_child(['bash', '-c', {child!r}]))"
    process = subprocess.Popen(
        [sys.executable, "-c", runner],
        cwd=_stack.REPO,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "started"
    os.killpg(process.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
    out, _ = process.communicate(timeout=30)
    assert out.strip() == "exit 130" and done.exists()


@pytest.mark.integration
def test_a_fresh_database_is_created_and_dropped() -> None:
    require_service("PostgreSQL", "127.0.0.1", 5432)
    import psycopg

    name = f"memlab_bench_selftest_{os.getpid()}"
    url = _stack.fresh_database(name)
    try:
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == (name,)
    finally:
        _stack.drop_database(name)
    with psycopg.connect(_stack.PG_ADMIN_URL) as conn:
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None
    with pytest.raises(ValueError):
        _stack.fresh_database("x; DROP DATABASE postgres")
