"""The runner's seccomp deny-list (pyseccomp, ctypes over libseccomp): default allow, named system calls fail.

A deny-list that answers ``EPERM`` (not a kill) keeps what the student sees readable: ``os.fork()`` raises
``PermissionError`` and the report can say so. What it closes, and why Landlock alone is not enough:

* processes: ``fork``/``vfork``, ``clone`` without ``CLONE_THREAD`` (threads stay allowed: glibc's
  ``pthread_create`` uses ``clone3``, which answers ``ENOSYS`` so glibc falls back to ``clone`` with
  ``CLONE_THREAD``), ``execve``/``execveat``, ``setsid``/``setpgid`` (no escaping the process group);
* signals to more than one process: ``kill`` with a negative pid (``kill(-1)``, every process the runner may
  signal, or another process group; ``kill(0)``, its own group, stays allowed). In the fallback the runner runs
  as its slot's uid (or, where the zygote's probe failed, as root without capabilities, and Landlock's signal
  scope is then the only other thing between ``kill(-1)`` and every root process of the host); inside a pid
  namespace it would reach nothing outside anyway;
* ``SIGKILL``, to any process, itself included (``kill``, ``tkill``, ``tgkill``, ``rt_sigqueueinfo``,
  ``rt_tgsigqueueinfo``, ``pidfd_send_signal``): then a runner that died of SIGKILL was killed by the supervisor
  (its wall or disk limit), by the kernel (the hard CPU limit, which its CPU time shows) or from outside the job,
  never by its own code, and the grader can tell the last case from a verdict (docs/GRADING-FAULTS.md);
* network: ``socket`` (Landlock does not stop UDP or pathname unix sockets);
* the kernel's sharper tools: ``ptrace``, ``process_vm_*``, namespaces and mounts, keyrings, ``bpf``,
  ``perf_event_open``, ``userfaultfd``, ``io_uring``, modules, ``ioctl(TIOCSTI)`` (typing into a terminal);
* what root could still do without capabilities' help being needed: reboot, clocks, swap, hostnames, raw I/O,
  ``setrlimit``/``prlimit64`` that set (the runner also drops every capability, see :mod:`confine`).
"""

from __future__ import annotations

import ctypes
import errno
import os
import signal

import pyseccomp as seccomp

CLONE_THREAD = 0x00010000
TIOCSTI = 0x5412
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
SOCK_FILTER_SIZE = 8  # struct sock_filter: u16 code, u8 jt, u8 jf, u32 k
DENIED = [
    "socket", "fork", "vfork", "execve", "execveat", "setsid", "setpgid",
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "open_tree", "move_mount", "fsopen", "fsmount",
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot",
    "swapon", "swapoff", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
    "sethostname", "setdomainname", "iopl", "ioperm", "syslog", "acct", "quotactl",
    "open_by_handle_at", "name_to_handle_at", "mknod", "mknodat", "fanotify_init", "setrlimit",
]  # fmt: skip

# the system calls that send a signal, and which argument holds it
SIGNAL_ARGUMENT = {
    "kill": 1,
    "tkill": 1,
    "tgkill": 2,
    "rt_sigqueueinfo": 1,
    "rt_tgsigqueueinfo": 2,
    "pidfd_send_signal": 1,
}

_program: bytes | None = None  # compiled once in the zygote (prepare), inherited by every runner it forks


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _rules() -> seccomp.SyscallFilter:
    deny = seccomp.ERRNO(errno.EPERM)
    rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    for name in DENIED:
        rules.add_rule(deny, name)
    # a new process (no CLONE_THREAD in the flags) is refused; a new thread is not
    rules.add_rule(deny, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_THREAD, 0))
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    rules.add_rule(deny, "ioctl", seccomp.Arg(1, seccomp.MASKED_EQ, 0xFFFFFFFF, TIOCSTI))
    rules.add_rule(deny, "prlimit64", seccomp.Arg(2, seccomp.NE, 0))  # reading limits stays allowed
    # SIGKILL is never sent from here: the signal is an int, compared on the argument's low 32 bits
    for name, position in SIGNAL_ARGUMENT.items():
        rules.add_rule(deny, name, seccomp.Arg(position, seccomp.MASKED_EQ, 0xFFFFFFFF, signal.SIGKILL))
    # kill(pid < 0): pid_t is 32 bits, so its sign bit is bit 31 of the argument, whatever the upper half holds
    rules.add_rule(deny, "kill", seccomp.Arg(0, seccomp.MASKED_EQ, 1 << 31, 1 << 31))
    return rules


def compile_filter() -> bytes:
    """The filter as the kernel takes it: libseccomp's BPF program (an array of ``struct sock_filter``)."""
    fd = os.memfd_create("seccomp-filter")
    with open(fd, "w+b") as out:
        _rules().export_bpf(out)
        out.seek(0)
        return out.read()


def prepare() -> None:
    """Compile the filter now, once (in the zygote): libseccomp takes ~1.7 ms to build it, a runner then only
    installs the bytes."""
    global _program
    _program = compile_filter()


def load() -> None:
    """Install the filter on this process (and every thread it starts later); irreversible."""
    install(_program if _program is not None else compile_filter())


def install(program: bytes) -> None:
    """``prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, program)`` after ``no_new_privs``, as ``seccomp_load`` does."""
    if not program or len(program) % SOCK_FILTER_SIZE:
        raise ValueError(f"not a BPF program: {len(program)} bytes")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    code = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // SOCK_FILTER_SIZE, ctypes.cast(code, ctypes.c_void_p))
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")
