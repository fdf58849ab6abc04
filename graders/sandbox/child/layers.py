"""Which layers a zygote runs with, decided once at its start; standard library only (the tests import it).

Fail closed: without namespaces *and* without Landlock nothing would keep the student's code off the host's files
and processes, so the zygote refuses to run any job rather than run it half-contained.
"""

from __future__ import annotations

from typing import Any

NAMESPACE_LAYERS = ["pid-ns", "net-ns", "mount-ns", "ipc-ns", "uts-ns", "mini-init", "job-tmpfs"]
# one uid per worker slot, never shared with anything else on the machine: 64000 + slot, slots 0..999
UID_BASE = 64000
MAX_SLOTS = 1000


def decide(
    *, forced_off: bool, namespaces_problem: str | None, landlock_abi: int, slot: int = 0
) -> dict[str, Any]:
    """The zygote's choice at start-up; ``refuse`` (non-empty) says why student code must not run at all."""
    namespaces = not forced_off and namespaces_problem is None
    why_not = "forced off by MEMLAB_SANDBOX_NO_NAMESPACES=1" if forced_off else namespaces_problem
    refuse = ""
    if not namespaces and landlock_abi < 1:
        refuse = (
            "refusing to run student code: neither Linux namespaces "
            f"({why_not}) nor Landlock are available on this machine"
        )
    return {
        "namespaces": namespaces,
        "namespaces_problem": why_not or "",
        "landlock_abi": landlock_abi,
        # the mini-init's mount namespace is what lets another uid read the install: only with namespaces
        "uid": UID_BASE + slot if namespaces and 0 <= slot < MAX_SLOTS else None,
        "refuse": refuse,
    }


def layer_names(sandbox: dict[str, Any]) -> list[str]:
    names: list[str] = []
    if sandbox["namespaces"]:
        names += NAMESPACE_LAYERS
    if sandbox["landlock_abi"] >= 1:
        names += ["landlock", "no-new-privs"]
    if sandbox["uid"] is not None:
        names += ["uid"]
    return names + ["no-caps", "seccomp"]
