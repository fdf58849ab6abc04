"""The sandbox's lifecycle, as a worker process drives it (the apps' only way to it; see graders/__init__.py).

A Celery worker checks its slots before its pool forks (:func:`probe_slot`), loads the grader's heavy half once
(:func:`load`), starts each pool process's zygote early on that process's own slot (:func:`start_sandbox`), and
replaces a zygote that may have been interrupted mid-reply (:func:`restart_sandbox`). Importing this is cheap.
"""

from __future__ import annotations

from graders.sandbox.slots import SlotError

__all__ = ["SlotError", "describe_slot", "load", "probe_slot", "restart_sandbox", "start_sandbox"]


def load() -> None:
    """Import the heavy half of the grader (torch, the reference, the checks), so that processes forked after
    this never pay for it at their first grading."""
    import graders.grading  # noqa: F401
    from graders import checks

    for entry in checks.registered():
        for interface in entry.interfaces:
            checks.implementation(entry.id, interface)


def probe_slot(slot: int, *, wait_s: float) -> None:
    """Claim sandbox slot ``slot`` and release it at once; :class:`SlotError` (naming the holder) when another
    process holds it for longer than ``wait_s``."""
    from graders.sandbox import slots

    slots.claim(slot, wait_s=wait_s).close()


def describe_slot(slot: int) -> str:
    """Which processes hold slot ``slot``, in words, for a log line."""
    from graders.sandbox import slots

    return slots.describe_holders(slot)


def start_sandbox(slot: int) -> bool:
    """Start this process's zygote on ``slot`` now (it boots in the background); False when the slot is still
    held, in which case the first grading waits for it, a bounded time."""
    from graders.sandbox.host import default_host

    return default_host(slot=slot).try_start()


def restart_sandbox() -> None:
    """Replace this process's zygote (a fresh one boots at once), after a grading that may have interrupted it."""
    from graders.sandbox.host import restart

    restart()
