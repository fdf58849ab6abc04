"""The zygote makes itself cheap to fork before its first job: heap frozen out of the collector, huge pages."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from graders.sandbox.host import CHILD_DIR, ZygoteHost
from graders.sandbox.jobs import Job, run_job

THP_ENABLED = Path("/sys/kernel/mm/transparent_hugepage/enabled")


def _collapse_unavailable() -> str | None:
    """Why MADV_COLLAPSE cannot work on this machine (None: it should)."""
    major, minor = (int(part) for part in platform.release().split(".")[:2])
    if (major, minor) < (6, 1):
        return f"MADV_COLLAPSE needs Linux 6.1 or later; this kernel is {platform.release()}"
    if not THP_ENABLED.exists():
        return "this kernel has no transparent huge pages"
    if "[never]" in THP_ENABLED.read_text():
        return "transparent huge pages are set to never on this machine"
    return None


def test_the_zygote_freezes_its_heap_before_serving(sandbox: ZygoteHost) -> None:
    outcome = run_job(Job("x = 1\n", [{"op": "module", "require": []}]), sandbox)
    assert outcome.ok, outcome
    # torch, numpy and the sandbox's own modules: well over a hundred thousand objects
    assert sandbox.prefork["frozen_objects"] > 50_000


def test_the_zygote_heap_is_backed_by_huge_pages(sandbox: ZygoteHost) -> None:
    reason = _collapse_unavailable()
    if reason:
        pytest.skip(reason)
    run_job(Job("x = 1\n", [{"op": "module", "require": []}]), sandbox)
    assert sandbox.prefork["huge_mib"] >= 64, sandbox.prefork


def test_collapse_turns_anonymous_memory_into_huge_pages() -> None:
    """Independently of the zygote's own report: the kernel's count of huge pages after the call."""
    reason = _collapse_unavailable()
    if reason:
        pytest.skip(reason)
    script = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(CHILD_DIR)!r})\n"
        "import prefork\n"
        "block = bytearray(64 << 20)  # 64 MiB of anonymous memory, every page touched\n"
        "def huge():\n"
        "    text = open('/proc/self/smaps_rollup').read()\n"
        "    return int(text.split('AnonHugePages:')[1].split()[0]) // 1024\n"
        "before = huge()\n"
        "done, problem = prefork.collapse_anonymous()\n"
        "print(json.dumps({'before': before, 'after': huge(), 'done': done >> 20}))\n"
    )
    env = {"PATH": os.environ.get("PATH", "/usr/bin")}
    result = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["done"] >= 60, seen  # the 64 MiB block, less its unaligned ends
    assert seen["after"] - seen["before"] >= 60, seen
