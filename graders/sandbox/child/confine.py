"""The runner's last layers, applied right before the submission is imported: Landlock, no capabilities, seccomp.

Order matters: Landlock needs its paths opened (and ``no_new_privs`` set) before seccomp forbids nothing it uses
but would be the last word; capabilities go after Landlock (which needs none) and before seccomp; the seccomp
filter comes last because from then on ``setrlimit`` and friends are refused, to us as well.

What the runner may read: the Python install, site-packages and this directory (torch loads modules lazily),
``/usr`` and ``/lib*`` (shared libraries); of ``/proc``, everything in namespace mode (a fresh ``/proc`` of the
job's own pid namespace) but only ``/proc/self`` and ``/proc/cpuinfo`` in the fallback (the host's ``/proc``
would show every command line on the machine). What it may write: the job directory only (and ``/dev/null``).

With namespaces the runner also switches to its worker slot's own uid (``layers.UID_BASE + slot``), and the
mini-init binds the Python install back read-only over an empty tmpfs where a 0700 home hid it (pyenv under
``/root`` here). Without namespaces that cannot be done, so the uid switch is off in the fallback; there every
capability is dropped instead, so uid 0 keeps only an owner's file rights (which Landlock overrides) and cannot
signal outside its Landlock domain.
"""

from __future__ import annotations

import ctypes
import os
import struct
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from graders.sandbox.child import landlock, seccomp_filter
else:
    import landlock
    import seccomp_filter

HERE = os.path.dirname(os.path.abspath(__file__))
CAP_VERSION_3 = 0x20080522
PR_CAPBSET_DROP = 24
LAST_CAP = 63


def apply(sandbox: dict[str, Any], jobdir: str) -> None:
    """Confine this process for good; any failure raises (the runner then exits before running student code)."""
    if sandbox["landlock_abi"] >= 1:
        landlock.restrict(
            sandbox["landlock_abi"], read_only=_readable(sandbox), read_write=[jobdir, os.devnull]
        )
    _empty_bounding_set()  # needs CAP_SETPCAP: before the uid switch, which clears the other sets
    if sandbox["uid"] is not None:
        uid = int(sandbox["uid"])
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        if os.getresuid() != (uid, uid, uid) or os.getgroups():
            raise OSError(0, f"still not running as uid {uid} alone")
    _clear_capabilities()
    seccomp_filter.load()


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
