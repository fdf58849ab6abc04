"""Sandbox slots are claimed, never assumed: an exclusive ``flock`` on one lock file per slot, host-wide.

A slot gives a zygote's runners their uid (64000 + slot) and names its job directories. In the fallback (no
namespaces) every job ends with a kill of every process of that uid, so two zygotes on one slot kill each other's
runners: a correct submission is then told it was killed. The kernel's lock is what makes a slot exclusive, for
every grader of the host whatever started it (a worker's pool process, ``python -m graders``, a test, a benchmark),
and it goes away by itself when the last process holding it ends, however it ends.

The lock files live in one directory every grader of the host uses (``MEMLAB_SANDBOX_SLOT_DIR``, default
``/tmp/memlab-sandbox-slots``), made mode 1777 when missing so that root and other users share it. In a sticky
directory ``fs.protected_regular`` refuses ``O_CREAT`` on another user's file, so an existing lock file is opened
without it and a missing one is created with ``O_EXCL``; ``flock`` works on the read-only descriptor this gives.
Nothing is ever written to a lock file: who holds a slot is read from the kernel (``/proc/locks``) and from the
zygotes' command lines (``--slot N``).

The host (:class:`graders.sandbox.host.ZygoteHost`) claims before it spawns a zygote and passes the locked
descriptor to it, so the slot stays held until both are gone (a zygote finishing its last job after its host died
still holds it). The runner closes every descriptor but its own pipes: student code never holds a slot.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import time
from pathlib import Path

from graders.errors import GraderError

SLOT_DIR_ENV = "MEMLAB_SANDBOX_SLOT_DIR"
DEFAULT_SLOT_DIR = "/tmp/memlab-sandbox-slots"
MAX_SLOTS = 1000  # graders.sandbox.child.layers.MAX_SLOTS: uids 64000..64999
POLL_S = 0.05


class SlotError(GraderError):
    """No slot could be claimed (the lock directory or file is unusable): an infrastructure fault."""

    def __init__(self, message: str, *, slot: int | None = None) -> None:
        super().__init__(message)
        self.slot = slot


class SlotBusy(SlotError):
    """The slot asked for is held by another grader of this host (or every slot is): nothing was started."""


class Claim:
    """An exclusive lock on one slot, held while this descriptor (or a copy in a child process) stays open.

    ``close`` only closes this process's descriptor: the lock stays with any zygote that inherited it. Nothing here
    ever unlocks explicitly (``LOCK_UN`` on one copy would free the slot under a zygote still running)."""

    def __init__(self, slot: int, fd: int) -> None:
        self.slot = slot
        self._fd: int | None = fd

    @property
    def fd(self) -> int:
        if self._fd is None:
            raise ValueError(f"the claim on slot {self.slot} is closed")
        return self._fd

    @property
    def closed(self) -> bool:
        return self._fd is None

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Claim(slot={self.slot}, fd={self._fd})"


def slot_dir() -> Path:
    """The host-wide directory of lock files, made (mode 1777) if missing."""
    path = Path(os.environ.get(SLOT_DIR_ENV) or DEFAULT_SLOT_DIR)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    else:
        os.chmod(path, 0o1777)  # after mkdir, which the umask narrows: every user of the host claims here
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise SlotError(f"{path} (the sandbox slot directory, {SLOT_DIR_ENV}) is not a directory")
    if info.st_mode & stat.S_IWOTH and not info.st_mode & stat.S_ISVTX:
        raise SlotError(f"{path} (the sandbox slot directory) is world-writable without the sticky bit")
    return path


def lock_path(slot: int) -> Path:
    return slot_dir() / f"slot-{slot:03d}.lock"


def claim(slot: int, *, wait_s: float = 0.0) -> Claim:
    """Lock ``slot``; if another process holds it, retry for up to ``wait_s``, then raise :class:`SlotBusy`
    naming the slot and its holders."""
    _check_range(slot)
    fd = _open_lock_file(slot)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return Claim(slot, fd)
        except BlockingIOError:
            if time.monotonic() >= deadline:
                break
            time.sleep(POLL_S)
        except BaseException:
            os.close(fd)
            raise
    holders = describe_holders(slot, fd)
    os.close(fd)
    waited = f" (waited {wait_s:g} s)" if wait_s > 0 else ""
    raise SlotBusy(f"sandbox slot {slot} is held by {holders}{waited}", slot=slot)


def claim_free(order: range | None = None) -> Claim:
    """The first slot of ``order`` nobody holds, locked. The default order runs from 999 down: workers take
    configured ranges from ``MEMLAB_SANDBOX_SLOT_BASE`` (0 unless set) up, so a grader that just needs a slot
    (the CLI, a test, a benchmark) stays out of their way and never stops a worker from starting."""
    for slot in order if order is not None else range(MAX_SLOTS - 1, -1, -1):
        _check_range(slot)
        fd = _open_lock_file(slot)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        except BaseException:
            os.close(fd)
            raise
        return Claim(slot, fd)
    raise SlotBusy("every sandbox slot is held: too many graders on this host")


def is_free(slot: int) -> bool:
    """Whether nobody holds ``slot`` now (a probe: the lock is taken and released at once)."""
    try:
        claim(slot).close()
    except SlotBusy:
        return False
    return True


def describe_holders(slot: int, fd: int | None = None) -> str:
    """Who holds ``slot``, from the kernel's lock table and the zygotes' command lines: e.g. "pid 812 (celery
    -A config worker ...), its zygote pid 830". Best effort: what cannot be read is left out."""
    parts: list[str] = []
    try:
        info = os.fstat(fd) if fd is not None else os.stat(lock_path(slot))
        pids = lock_holders(info.st_dev, info.st_ino)
    except OSError:
        pids = []
    parts += [f"pid {pid} ({command_line(pid) or 'gone'})" for pid in pids]
    zygotes = [pid for pid in zygotes_of(slot) if pid not in pids]
    parts += [f"zygote pid {pid}" for pid in zygotes]
    return ", ".join(parts) or "another process (not visible from here)"


def lock_holders(device: int, inode: int) -> list[int]:
    """Pids that ``/proc/locks`` shows holding a lock on the file (for ``flock``: the process that locked it,
    even when only a child that inherited the descriptor is left)."""
    wanted = f"{os.major(device):02x}:{os.minor(device):02x}:{inode}"
    pids: list[int] = []
    with contextlib.suppress(OSError), open("/proc/locks", encoding="ascii", errors="replace") as table:
        for line in table:
            fields = line.split()
            if len(fields) < 6 or fields[1] == "->":  # "->" marks a waiter, not a holder
                continue
            if fields[5] == wanted and fields[4].lstrip("-").isdigit() and int(fields[4]) > 0:
                pids.append(int(fields[4]))
    return pids


def zygotes_of(slot: int) -> list[int]:
    """Pids of live zygotes started for ``slot`` (``launch.py ... --slot N`` on their command line)."""
    found: list[int] = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        args = _argv(int(name))
        if any(a.endswith("launch.py") for a in args) and _arg_after(args, "--slot") == str(slot):
            found.append(int(name))
    return found


def command_line(pid: int, limit: int = 120) -> str:
    text = " ".join(" ".join(_argv(pid)).split())  # one line, whatever the arguments held
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _argv(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read(4096)
    except OSError:
        return []
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]


def _arg_after(args: list[str], flag: str) -> str | None:
    with contextlib.suppress(ValueError, IndexError):
        return args[args.index(flag) + 1]
    return None


def _check_range(slot: int) -> None:
    if not 0 <= slot < MAX_SLOTS:
        raise SlotError(f"sandbox slot {slot} is outside 0..{MAX_SLOTS - 1}", slot=slot)


def _open_lock_file(slot: int) -> int:
    try:
        return _open_lock_file_or_fail(slot)
    except OSError as exc:
        raise SlotError(f"cannot open the lock file of sandbox slot {slot}: {exc}", slot=slot) from exc


def _open_lock_file_or_fail(slot: int) -> int:
    """A read-only, close-on-exec descriptor on the slot's lock file: an existing one is opened without
    ``O_CREAT`` (which ``fs.protected_regular`` refuses on another user's file here), a missing one is created
    with ``O_EXCL`` (mode 0644: nobody writes to it). Never follows a symbolic link."""
    directory = slot_dir()
    name = f"slot-{slot:03d}.lock"
    flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | os.O_NOFOLLOW)
    try:
        for _ in range(3):  # a race with another grader creating it, or removing it, is retried
            try:
                fd = os.open(name, flags, dir_fd=dir_fd)
            except FileNotFoundError:
                try:
                    fd = os.open(name, flags | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=dir_fd)
                except FileExistsError:
                    continue
                os.fchmod(fd, 0o644)  # the umask may have narrowed it: others must still be able to open it
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
                raise OSError(errno.EINVAL, f"{directory / name} is not a regular file")
            return fd
        raise OSError(errno.EAGAIN, f"could not open {directory / name}")
    finally:
        os.close(dir_fd)
