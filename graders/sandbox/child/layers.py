"""Which layers a zygote runs with, decided once at its start; standard library only (the tests import it).

Fail closed: without namespaces *and* without Landlock nothing would keep the student's code off the host's files
and processes, so the zygote refuses to run any job rather than run it half-contained.

The runner switches to its slot's own uid in both modes. With namespaces the mini-init binds the Python install
back where a 0700 home hid it; in the fallback the runner reaches it through descriptors it opened as root (see
:func:`confine.switch_uid`), which the zygote tries once at start (``uid_problem``: why it could not, and the
fallback then runs as root without capabilities, as before). Without a pid namespace nothing ends a process
that escaped the runner's group and the subreaper, so the supervisor also sweeps the slot's uid after each job
(``kill(-1)`` as that uid, see :func:`reap.sweep_uid`).
"""

from __future__ import annotations

from typing import Any

NAMESPACE_LAYERS = ["pid-ns", "net-ns", "mount-ns", "ipc-ns", "uts-ns", "mini-init", "job-tmpfs"]
# one uid per worker slot, never shared with anything else on the machine: 64000 + slot, slots 0..999
UID_BASE = 64000
MAX_SLOTS = 1000


def decide(
    *,
    forced_off: bool,
    namespaces_problem: str | None,
    landlock_abi: int,
    slot: int = 0,
    uid_problem: str | None = None,
) -> dict[str, Any]:
    """The zygote's choice at start-up; ``refuse`` (non-empty) says why student code must not run at all.

    ``uid_problem`` is why the fallback's runner could not read the install as the slot's uid (the zygote's
    probe, :func:`confine.probe_uid`); namespace mode does not need the probe (the mini-init's mounts do it)."""
    namespaces = not forced_off and namespaces_problem is None
    why_not = "forced off by MEMLAB_SANDBOX_NO_NAMESPACES=1" if forced_off else namespaces_problem
    if not 0 <= slot < MAX_SLOTS:
        why_no_uid = f"slot {slot} is outside 0..{MAX_SLOTS - 1}"
    else:
        why_no_uid = "" if namespaces else uid_problem or ""
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
        "slot": slot,
        "uid": UID_BASE + slot if not why_no_uid else None,
        "uid_problem": why_no_uid,
        "refuse": refuse,
    }


def layer_names(sandbox: dict[str, Any]) -> list[str]:
    names: list[str] = []
    if sandbox["namespaces"]:
        names += NAMESPACE_LAYERS
    if sandbox["landlock_abi"] >= 1:
        names += ["landlock", "no-new-privs"]
    if sandbox["uid"] is not None:
        names += ["uid"] if sandbox["namespaces"] else ["uid", "uid-sweep"]
    return names + ["no-caps", "seccomp"]
