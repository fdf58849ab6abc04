"""The seccomp filter compiled once in the zygote and installed as bytes in each runner."""

from __future__ import annotations

import json
import os
import socket
import sys
import threading

from graders.sandbox.host import CHILD_DIR

sys.path.insert(0, str(CHILD_DIR))  # the child's modules import one another by their bare names
from graders.sandbox.child import seccomp_filter  # noqa: E402


def test_the_compiled_filter_is_a_whole_bpf_program() -> None:
    program = seccomp_filter.compile_filter()
    assert len(program) % seccomp_filter.SOCK_FILTER_SIZE == 0
    assert len(program) // seccomp_filter.SOCK_FILTER_SIZE > len(
        seccomp_filter.DENIED
    )  # a test per call, at least


def test_installed_bytes_refuse_what_the_filter_denies_and_allow_threads() -> None:
    """In a forked child (the filter is irreversible): fork, socket and kill(-1) fail with EPERM, a thread starts."""
    program = seccomp_filter.compile_filter()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child reports through the pipe)
        seen: dict[str, object] = {}
        try:
            seccomp_filter.install(program)
            for name, call in (
                ("fork", lambda: os.fork() or os._exit(0)),
                ("socket", lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM)),
                ("kill", lambda: os.kill(-1, 0)),
            ):
                try:
                    call()
                    seen[name] = "allowed"
                except PermissionError:
                    seen[name] = "EPERM"
            ran = []
            worker = threading.Thread(target=lambda: ran.append(True))
            worker.start()
            worker.join()
            seen["thread"] = bool(ran)
        except BaseException as exc:  # noqa: BLE001 (reported, not raised, in the child)
            seen["error"] = repr(exc)
        os.write(write_end, json.dumps(seen).encode())
        os._exit(0)
    os.close(write_end)
    report = json.loads(os.read(read_end, 4096))
    os.close(read_end)
    os.waitpid(pid, 0)
    assert report == {"fork": "EPERM", "socket": "EPERM", "kill": "EPERM", "thread": True}
