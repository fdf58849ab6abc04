"""The zygote's entry script: ``python -I launch.py --fd N --slot S --slot-fd L``, run by the grader with a
scrubbed environment.

``--slot-fd`` is the descriptor on which the grader locked slot ``S`` (``graders.sandbox.slots``): the zygote
keeps it open for its whole life, so the slot stays claimed until it is gone (its supervisors inherit it too; the
runner closes it with every descriptor but its own pipes). A zygote that does not hold the lock refuses to start.

It fixes ``sys.path`` (the standard library, site-packages and this directory only; any entry through which a
grader package could be imported is dropped, and start-up is refused if one still can be), pins every thread pool
to one thread before torch is imported, loads torch, numpy and safetensors once, and hands over to
:func:`zygote.serve`. It never runs a parallel op, so forked children never inherit a half-started thread pool.
"""

import fcntl
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FORBIDDEN = ("graders", "reference", "apps", "config")


def _prepare_path() -> None:
    def holds_forbidden(entry: str) -> bool:
        return any(os.path.exists(os.path.join(entry, name)) for name in FORBIDDEN)

    sys.path[:] = [HERE] + [p for p in sys.path if p and not holds_forbidden(p)]
    import importlib.util

    for name in FORBIDDEN:
        if importlib.util.find_spec(name) is not None:
            raise SystemExit(f"zygote: refusing to start, {name!r} is importable")


def _check_slot_lock(fd: int, slot: int) -> None:
    """The lock on ``fd`` must be this zygote's: on the grader's own open file (which this process shares) the
    call succeeds at once; if any other process holds the slot, it fails."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        raise SystemExit(f"zygote: refusing to start, slot {slot}'s lock is not held here ({exc})") from None


def _load_libraries() -> None:
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = "1"
    import numpy  # noqa: F401
    import pyseccomp  # noqa: F401  (loads libseccomp now, not in every runner)
    import safetensors.torch
    import torch

    torch.set_num_threads(1)
    # lazy initialisation happens here, once and serially, so that forked children start ready
    blob = safetensors.torch.save({"x": torch.ones(3, 3) @ torch.ones(3)})
    safetensors.torch.load(blob)


if __name__ == "__main__":
    fd = int(sys.argv[sys.argv.index("--fd") + 1])
    slot = int(sys.argv[sys.argv.index("--slot") + 1]) if "--slot" in sys.argv else 0
    if "--slot-fd" in sys.argv:
        _check_slot_lock(int(sys.argv[sys.argv.index("--slot-fd") + 1]), slot)
    _prepare_path()
    _load_libraries()
    import zygote

    status = zygote.serve(fd, no_namespaces="--no-namespaces" in sys.argv, slot=slot)
    os._exit(status)  # skip the interpreter's teardown of torch (~0.4 s): nothing is left to flush
