"""The runner's last layers, applied right before the submission is imported: Landlock, uid, no capabilities,
seccomp.

Order matters: Landlock needs its paths opened (and ``no_new_privs`` set) before seccomp forbids nothing it uses
but would be the last word; the bounding set is emptied while we still hold ``CAP_SETPCAP``, then the uid
switches; capabilities go after Landlock (which needs none) and before seccomp; the seccomp
filter comes last because from then on ``setrlimit`` and friends are refused, to us as well.

What the runner may read: the Python install, site-packages and this directory (torch loads modules lazily),
``/usr`` and ``/lib*`` (shared libraries); of ``/proc``, everything in namespace mode (a fresh ``/proc`` of the
job's own pid namespace) but only ``/proc/self`` and ``/proc/cpuinfo`` in the fallback (the host's ``/proc``
would show every command line on the machine). What it may write: the job directory only (and ``/dev/null``).

In both modes the runner switches to its worker slot's own uid (``layers.UID_BASE + slot``) after Landlock and
the bounding-set drop. The Python install may sit where that uid cannot go (pyenv under ``/root``, mode 0700,
here). With namespaces the mini-init binds it back read-only over an empty tmpfs. Without namespaces there is no
mount to make, so :func:`switch_uid` opens, while still root, an ``O_PATH`` descriptor on each install directory
below such a home, and afterwards points ``sys.path`` and every loaded package's ``__path__`` at
``/proc/self/fd/N/...``: resolving that magic link lands on the directory itself and skips the permission checks
of its ancestors, and Landlock, whose rules are on inodes, still allows the reads. The switch makes the process
non-dumpable, which makes ``/proc/self/fd`` root's; the runner sets itself dumpable again (``ptrace`` and
``process_vm_*`` stay refused by seccomp, ``RLIMIT_CORE`` is 0, and no other process runs as the slot's uid).
The zygote tries all of this once at start (:func:`probe_uid`); where it fails, the fallback runs as uid 0 with
every capability dropped, so that uid 0 keeps only an owner's file rights (which Landlock overrides) and cannot
signal outside its Landlock domain.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import os
import signal
import struct
import sys
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from graders.sandbox.child import landlock, namespaces, seccomp_filter
else:
    import landlock
    import namespaces
    import seccomp_filter

HERE = os.path.dirname(os.path.abspath(__file__))
CAP_VERSION_3 = 0x20080522
PR_CAPBSET_DROP = 24
LAST_CAP = 63
PR_SET_DUMPABLE = 4
PR_SET_PDEATHSIG = 1
# standard modules the zygote does not load: the probe imports the first one not yet imported
PROBE_MODULES = ("colorsys", "fractions", "csv", "wave", "sched", "decimal")


def apply(sandbox: dict[str, Any], jobdir: str) -> None:
    """Confine this process for good; any failure raises (the runner then exits before running student code)."""
    if sandbox["landlock_abi"] >= 1:
        landlock.restrict(
            sandbox["landlock_abi"], read_only=_readable(sandbox), read_write=[jobdir, os.devnull]
        )
    _empty_bounding_set()  # needs CAP_SETPCAP: before the uid switch, which clears the other sets
    if sandbox["uid"] is not None:
        parent = os.getppid()
        switch_uid(int(sandbox["uid"]), hold=not sandbox["namespaces"])  # namespaces: the mini-init's mounts
        die_with_parent(parent)  # the kernel cleared the parent-death signal when the uid changed
    _clear_capabilities()
    seccomp_filter.load()


def die_with_parent(parent: int) -> None:
    """``PR_SET_PDEATHSIG``: SIGKILL when ``parent`` dies. The kernel clears it on a credential change, so the
    runner sets it at its start and again after its uid switch; without the second, a runner whose supervisor was
    killed (its zygote stopped mid-job) lived on, as the slot's uid, until its own alarm."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
    if os.getppid() != parent:  # it died already: the signal will never come
        raise RuntimeError("supervisor already gone")


def switch_uid(uid: int, *, hold: bool = True) -> None:
    """Become ``uid`` alone (no groups) and keep reading the install where an ancestor shuts ``uid`` out.

    The descriptors are opened before the switch (root may still search the home) and stay open, close-on-exec
    (no ``exec`` is allowed anyway), for the rest of the runner's life: every later import goes through them.
    Where nothing is hidden (an install readable by all), or with ``hold`` off (namespace mode, where the
    mini-init bound the install back), nothing is opened or rewritten."""
    handles = _hold_hidden(install_paths()) if hold else {}
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    if os.getresuid() != (uid, uid, uid) or os.getgroups():
        raise OSError(0, f"still not running as uid {uid} alone")
    if handles:
        _reach_through(handles)


def probe_uid(uid: int) -> str | None:
    """``None`` if a forked child can switch to ``uid`` and still import the standard library, else why not.

    Done once by the zygote in the fallback, in a throwaway child, so that a machine where the trick fails runs
    as uid 0 without capabilities (and says so) instead of failing every job."""

    def attempt() -> None:
        switch_uid(uid)
        for path in install_paths():
            os.listdir(reachable(path))
        missing = [name for name in PROBE_MODULES if name not in sys.modules]
        if missing:
            importlib.import_module(missing[0])

    return namespaces.in_throwaway_child(attempt, "the uid probe died")


_through: dict[str, int] = {}  # hidden install directory -> the descriptor it is reached through


def reachable(path: str) -> str:
    """``path`` as the runner reaches it after :func:`switch_uid`: through a held descriptor if it is hidden."""
    for top, fd in _through.items():
        if path == top or path.startswith(top + os.sep):
            return f"/proc/self/fd/{fd}{path[len(top) :]}"
    return path


def _hold_hidden(paths: list[str]) -> dict[str, int]:
    """An ``O_PATH`` descriptor on each topmost directory of ``paths`` below one that others cannot search."""
    hidden = sorted(p for p in paths if os.path.isdir(p) and namespaces.blocked_ancestor(p) is not None)
    tops = [p for p in hidden if not any(p != q and p.startswith(q + os.sep) for q in hidden)]
    return {top: os.open(top, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC) for top in tops}


def _reach_through(handles: dict[str, int]) -> None:
    """Point the import system at the held descriptors (see the module docstring)."""
    libc = ctypes.CDLL(None, use_errno=True)
    # setresuid made us non-dumpable: /proc/self/fd would be root's, and its magic links closed to us
    if libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE)")
    _through.update(handles)
    sys.path[:] = [reachable(entry) for entry in sys.path]
    for module in list(sys.modules.values()):
        if isinstance(module, types.ModuleType):
            _rewrite_package(module, reachable)
    sys.path_importer_cache.clear()  # finders made for the old paths; new ones are made on demand
    importlib.invalidate_caches()  # and namespace packages recompute their paths from the new ones


def _rewrite_package(module: types.ModuleType, rewrite: Callable[[str], str]) -> None:
    """A package's search locations, rewritten in place (``__path__`` and its spec often share one list)."""
    places = [module.__dict__.get("__path__")]
    spec = module.__dict__.get("__spec__")
    places.append(getattr(spec, "submodule_search_locations", None))
    for place in places:
        if isinstance(place, list):
            place[:] = [rewrite(entry) if isinstance(entry, str) else entry for entry in place]
        elif type(place).__name__ == "_NamespacePath":  # recomputed from its parent's path on next use
            with contextlib.suppress(AttributeError, TypeError):
                place._path[:] = [rewrite(entry) for entry in place._path]  # type: ignore[union-attr]


def install_paths() -> list[str]:
    """The Python install, site-packages and this directory: what a confined runner must still read."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, HERE}
    paths |= {entry for entry in sys.path if entry and os.path.isdir(entry)}
    return sorted(paths)


def _readable(sandbox: dict[str, Any]) -> list[str]:
    paths = set(install_paths()) | {"/usr", "/lib", "/lib64", "/dev/urandom"}
    paths |= {"/proc"} if sandbox["namespaces"] else {"/proc/self", "/proc/cpuinfo"}
    return sorted(paths)


def _empty_bounding_set() -> None:
    """No capability can ever be gained again (not even by a setuid file: execve is refused anyway)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in range(LAST_CAP + 1):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() != 22:  # EINVAL: no such cap
            raise OSError(ctypes.get_errno(), f"prctl(PR_CAPBSET_DROP, {cap})")


def _clear_capabilities() -> None:
    """Empty the effective, permitted and inheritable sets: uid 0 (in the fallback) becomes powerless."""
    libc = ctypes.CDLL(None, use_errno=True)
    header = ctypes.create_string_buffer(struct.pack("=Ii", CAP_VERSION_3, 0), 8)
    data = ctypes.create_string_buffer(bytes(24), 24)  # two {effective, permitted, inheritable} u32 triples
    if libc.capset(header, data) != 0:
        raise OSError(ctypes.get_errno(), "capset")
