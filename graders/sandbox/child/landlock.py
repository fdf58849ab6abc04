"""Landlock through raw syscalls (ctypes): the runner may read the Python install and write its job directory.

Landlock is an unprivileged LSM: a process builds a ruleset ("these accesses are handled; these paths allow
these of them"), and ``restrict_self`` applies it to itself and every later child, irrevocably. Anything a
handled right does not allow by a rule is denied (``EACCES``), even to root. What each ABI version adds:

* 1: file-system rights (read, write, make, remove, execute...); 2: ``REFER`` (link/rename across directories);
  3: ``TRUNCATE``; 4: TCP ``bind``/``connect`` (we allow neither); 5: ``IOCTL_DEV``;
* 6: scopes: no connecting to abstract unix sockets and **no signals** to processes outside the domain (so the
  student cannot kill the supervisor, the zygote or anything else, even as root).

Landlock does not cover UDP or pathname unix sockets: seccomp denies ``socket`` (see :mod:`seccomp_filter`).
"""

from __future__ import annotations

import ctypes
import os
import struct

SYS_CREATE_RULESET = 444  # x86_64 and aarch64 share these numbers
SYS_ADD_RULE = 445
SYS_RESTRICT_SELF = 446
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1
PR_SET_NO_NEW_PRIVS = 38

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
# remove dir/file, make char/dir/reg/sock/fifo/block/sym: bits 4..12
MAKE_AND_REMOVE = sum(1 << bit for bit in range(4, 13))
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX, SCOPE_SIGNAL = 1 << 0, 1 << 1

# the rights a rule on a non-directory may hold
FILE_ONLY = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
READ_ONLY = READ_FILE | READ_DIR | EXECUTE

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def abi_version() -> int:
    """The kernel's Landlock ABI (0 when Landlock is missing or disabled)."""
    version = _libc.syscall(
        SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(CREATE_RULESET_VERSION)
    )
    return max(int(version), 0)


def handled_fs(abi: int) -> int:
    rights = EXECUTE | WRITE_FILE | READ_FILE | READ_DIR | MAKE_AND_REMOVE
    if abi >= 2:
        rights |= REFER
    if abi >= 3:
        rights |= TRUNCATE
    if abi >= 5:
        rights |= IOCTL_DEV
    return rights


def restrict(abi: int, *, read_only: list[str], read_write: list[str]) -> None:
    """Apply a ruleset to this process: ``read_only`` and ``read_write`` paths (missing ones are skipped).

    Sets ``PR_SET_NO_NEW_PRIVS`` first (required without CAP_SYS_ADMIN, and wanted anyway: no setuid binary can
    ever regain privileges). Raises ``OSError`` on any failure: the caller must not run student code then.
    """
    if abi < 1:
        raise OSError(0, "Landlock is not available")
    fs = handled_fs(abi)
    net = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0
    scoped = SCOPE_ABSTRACT_UNIX | SCOPE_SIGNAL if abi >= 6 else 0
    # struct landlock_ruleset_attr {u64 handled_access_fs; u64 handled_access_net; u64 scoped;}, as long as the ABI
    attr = struct.pack("=QQQ", fs, net, scoped)[: 8 if abi < 4 else 16 if abi < 6 else 24]
    buffer = ctypes.create_string_buffer(attr, len(attr))
    ruleset = _libc.syscall(SYS_CREATE_RULESET, buffer, ctypes.c_size_t(len(attr)), ctypes.c_uint32(0))
    if ruleset < 0:
        raise _error("landlock_create_ruleset")
    try:
        for path in read_only:
            _allow(int(ruleset), path, READ_ONLY & fs)
        for path in read_write:
            _allow(int(ruleset), path, fs)
        if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise _error("prctl(PR_SET_NO_NEW_PRIVS)")
        if _libc.syscall(SYS_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
            raise _error("landlock_restrict_self")
    finally:
        os.close(int(ruleset))


def _allow(ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        if not os.path.isdir(path):
            rights &= FILE_ONLY
        # struct landlock_path_beneath_attr {u64 allowed_access; s32 parent_fd;} __attribute__((packed))
        raw = ctypes.create_string_buffer(struct.pack("=Qi", rights, fd), 12)
        if _libc.syscall(
            SYS_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(RULE_PATH_BENEATH), raw, ctypes.c_uint32(0)
        ):
            raise _error(f"landlock_add_rule({path})")
    finally:
        os.close(fd)


def _error(what: str) -> OSError:
    err = ctypes.get_errno()
    return OSError(err, f"{what}: {os.strerror(err)}")
