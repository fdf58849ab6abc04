"""`make run`'s embedded setup, started for a test exactly as `make run` starts it: ``bin/run-local`` (migrate,
sync_course, seed_demo, then supervisord with a private Redis, one Celery worker with beat and gunicorn), on a
var/ folder, a TCP port and a range of sandbox slots of the test's own.

The test reads what it needs from the outside, as an operator would: supervisord's XML-RPC control socket (the
programs' pids and states), its log, the programs' output (supervisord's stdout), and the SQLite database
(read-only). Nothing here imports Django: the test process never configures it.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
import xmlrpc.client
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
STUDENT_PASSWORD = "chaos-student-pw-1"
GROUP = "memlab"  # config/supervisord.conf's [group:memlab]


class UnixSocketTransport(xmlrpc.client.Transport):
    """XML-RPC over HTTP on a unix socket."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        connection = _UnixHTTPConnection(self.path)
        self._connection = host, connection
        return connection


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=10)
        self.unix_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(
    what: str,
    condition: Callable[[], bool],
    timeout: float,
    *,
    tail: Callable[[], str] = str,
    poll_s: float = 0.1,
) -> float:
    """Poll ``condition`` until it holds; the seconds it took. Raises with ``tail()`` (a log) after ``timeout``."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout:.0f} s: {what}\n{tail()}")
        time.sleep(poll_s)
    return time.monotonic() - started


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@dataclass
class Embedded:
    """One embedded setup: its folder, port and environment, and once started, supervisord's process."""

    var: Path
    port: int
    slot_base: int
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def output(self) -> Path:
        """supervisord's stdout: bin/run-local's steps and every program's output (stdout_logfile=/dev/stdout)."""
        return self.var.parent / "run-local.log"

    @property
    def supervisord_log(self) -> Path:
        return self.var / "log" / "supervisord.log"

    @property
    def database(self) -> Path:
        return self.var / "memlab.sqlite3"

    def tail(self, chars: int = 4000) -> str:
        parts = []
        for path in (self.output, self.supervisord_log):
            with contextlib.suppress(OSError):
                parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-chars:]}")
        return "\n".join(parts)

    # --- start ----------------------------------------------------------------------------------------------
    def start(self, timeout: float = 150) -> None:
        """``bin/run-local`` in a session of its own (its pid becomes supervisord's: the script execs it), then
        wait until the web answers and the worker is ready."""
        with self.output.open("ab") as out:  # append: supervisord's programs reopen /dev/stdout
            self.process = subprocess.Popen(
                [str(REPO / "bin" / "run-local")],
                cwd=REPO,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for("the web answers /healthz", self._web_up, timeout, tail=self.tail)
        wait_for("the worker is ready", lambda: self.worker_ready_count() >= 1, timeout, tail=self.tail)

    def _web_up(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"bin/run-local exited with {self.process.returncode}\n{self.tail()}")
        return _http_ok(self.base_url + "/healthz")

    def worker_ready_count(self) -> int:
        """How many times a worker said it was ready (once per start)."""
        try:
            return self.output.read_text(errors="replace").count(" ready.")
        except OSError:
            return 0

    def manage(self, *args: str) -> str:
        """``manage.py`` with the setup's environment (as bin/run-local runs it)."""
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=REPO, env=self.env, capture_output=True, text=True
        )
        if done.returncode:
            raise RuntimeError(
                f"manage.py {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
            )
        return done.stdout

    def create_students(self, names: list[str]) -> None:
        """Student accounts sharing one password (hashed once), through the ORM in a subprocess."""
        code = (
            "from django.contrib.auth.hashers import make_password\n"
            "from apps.accounts.models import User\n"
            f"hashed = make_password({STUDENT_PASSWORD!r})\n"
            f"User.objects.bulk_create([User(username=n, password=hashed, role=User.Role.STUDENT) for n in {names!r}])\n"
        )
        self.manage("shell", "-c", code)

    # --- supervisord ----------------------------------------------------------------------------------------
    def rpc(self) -> Any:
        """supervisord's XML-RPC interface over its unix control socket (what supervisorctl talks to). The
        transport is the standard library's: the name ``supervisor`` may resolve to the sandbox's own module in a
        test process (tests that import the sandbox's child modules put their folder first on sys.path)."""
        from config import embedded

        sock = embedded.socket_dir(self.var) / "supervisor.sock"
        return xmlrpc.client.ServerProxy("http://localhost/RPC2", UnixSocketTransport(str(sock)))

    def program(self, name: str) -> dict[str, Any]:
        """supervisord's view of one program: ``statename``, ``pid``, ``start`` …"""
        info: dict[str, Any] = self.rpc().supervisor.getProcessInfo(f"{GROUP}:{name}")
        return info

    def wait_restarted(self, name: str, old_pid: int, timeout: float = 60) -> float:
        """Until supervisord runs ``name`` again under a new pid and calls it RUNNING; the seconds it took."""

        def restarted() -> bool:
            info = self.program(name)
            return info["statename"] == "RUNNING" and info["pid"] not in (0, old_pid)

        return wait_for(f"supervisord restarted {name}", restarted, timeout, tail=self.tail)

    def processes(self) -> list[Any]:
        """supervisord, every process below it, and every zygote of the setup's sandbox slots (sessions of their
        own, left to init when the pool process that spawned them died)."""
        import psutil

        from graders.sandbox import slots

        found: dict[int, psutil.Process] = {}
        if self.process is not None:
            with contextlib.suppress(psutil.NoSuchProcess):
                leader = psutil.Process(self.process.pid)
                found[leader.pid] = leader
                found.update((p.pid, p) for p in leader.children(recursive=True))
        for slot in range(self.slot_base, self.slot_base + 4):
            for pid in slots.zygotes_of(slot):
                with contextlib.suppress(psutil.NoSuchProcess):
                    found.setdefault(pid, psutil.Process(pid))
        return list(found.values())

    def interrupt(self, timeout: float = 10.0) -> tuple[float, int, list[str]]:
        """Ctrl-C: SIGINT to supervisord's process group (the terminal's foreground group; supervisord puts each
        program in a group of its own). Returns the seconds until every process of the setup was gone, how many
        there were, and a description of those still alive after ``timeout``."""
        import psutil

        assert self.process is not None
        procs = self.processes()
        started = time.monotonic()
        os.killpg(self.process.pid, signal.SIGINT)
        gone_in = timeout
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=timeout)
        _, alive = psutil.wait_procs(procs, timeout=max(0.0, timeout - (time.monotonic() - started)))
        if not alive:
            gone_in = time.monotonic() - started
        return gone_in, len(procs), [_describe(p) for p in alive]

    def kill_everything(self) -> None:
        """The teardown whatever happened: SIGKILL to every process of the setup still alive."""
        import psutil

        procs = self.processes()
        for proc in procs:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        psutil.wait_procs(procs, timeout=5)
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        if self.process is not None:
            self.process.wait()

    # --- the database ---------------------------------------------------------------------------------------
    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Read the setup's SQLite database (read-only; WAL lets this run beside the web and the worker)."""
        conn = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=20)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()


def _describe(proc: Any) -> str:
    with contextlib.suppress(Exception):
        return f"pid {proc.pid} ({' '.join(proc.cmdline())[:120]})"
    return f"pid {proc.pid}"


@contextlib.contextmanager
def embedded_setup(*, slot_base: int) -> Iterator[Embedded]:
    """A fresh var/ folder with a short path (unix socket paths hold 107 bytes), a free port, `make run`'s
    environment (DJANGO_DEBUG=1, no DATABASE_URL or CELERY_BROKER_URL: SQLite and the private Redis), not started.
    On the way out every process of the setup is killed, and the folder is removed unless the test failed."""
    folder = Path(tempfile.mkdtemp(prefix="mlc-", dir="/tmp"))
    var = folder / "var"
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "DJANGO_DEBUG": "1",
        "MEMLAB_VAR_DIR": str(var),
        "MEMLAB_HOST": "127.0.0.1",
        "MEMLAB_PORT": str(port),
        "MEMLAB_SANDBOX_SLOT_BASE": str(slot_base),
    }
    setup = Embedded(var=var, port=port, slot_base=slot_base, env=env)
    passed = False
    try:
        yield setup
        passed = True
    finally:
        setup.kill_everything()
        if passed:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"[embedded] the setup's folder is kept: {folder}")
