"""Turn a supervisor's reply into a :class:`JobOutcome` the checks can use.

The supervisor's header is trusted (it was written before or without student code); the runner's header and the
tensors are the student's: they are parsed defensively, and anything malformed reads as "no complete result".
"""

from __future__ import annotations

import base64
import binascii
import itertools
import signal
from dataclasses import dataclass, field
from typing import Any, Literal

import safetensors
import safetensors.torch
import torch

from graders.errors import GraderError
from graders.sandbox.child import wire

OutcomeKind = Literal[
    "ok",  # the whole schedule ran
    "error",  # a call raised (type, message, traceback)
    "missing",  # the module ran but lacks a required function
    "bad_output",  # a call returned something that is not a dict of plain tensors
    "memory",  # MemoryError / allocation failure
    "timeout",  # CPU or wall-clock limit (see ``limit``)
    "crashed",  # killed by a signal
    "exited",  # the process ended before sending a result
    "no_result",  # the result channel held something unreadable
    "disk",  # the job directory grew past its bounds (fallback mode: a folder of the host's /tmp)
]

# What reading the runner's header and tensors can raise on bytes the student shaped. Named, not ``Exception``:
# anything else (the worker's soft time limit, say) is not about those bytes and must reach the caller.
UNREADABLE = (
    safetensors.SafetensorError,
    wire.FrameError,
    ValueError,
    TypeError,
    RuntimeError,
    OverflowError,
)

SEND_RESOURCES = ("memory", "descriptors", "threads", "unknown")  # what the runner ran out of while sending


class JobInterrupted(GraderError):
    """The job was ended by something that is not the submission's doing: its runner was SIGKILLed by neither
    the supervisor nor a limit (another process, the OOM killer), or its supervisor did not finish (a lost
    zygote). Nothing of it may be blamed on the student: the job is run again, and the grading retried after."""


RUNNER_KINDS: dict[str, OutcomeKind] = {
    "exception": "error",
    "bad_output": "bad_output",
    "missing": "missing",
    "memory": "memory",
    "timeout": "timeout",
}


class Outputs(dict[str, torch.Tensor]):
    """The tensors a job sent back, by name (``case/m/3/M``), with a lookup of every name under a prefix.

    Checks ask "everything saved under ``visible/c1/a/7``" once per call of a run, hundreds of times per job; a
    scan of every name each time made that quadratic. :meth:`under` answers from an index built once, on first use
    (the outputs are not changed after they are read).
    """

    _index: dict[str, dict[str, torch.Tensor]] | None = None

    def under(self, prefix: str) -> dict[str, torch.Tensor]:
        """``{rest: tensor}`` for every name ``prefix + "/" + rest`` (``rest`` may hold further slashes)."""
        if self._index is None:
            index: dict[str, dict[str, torch.Tensor]] = {}
            for name, tensor in self.items():
                cut = name.find("/")
                while cut != -1:
                    index.setdefault(name[:cut], {})[name[cut + 1 :]] = tensor
                    cut = name.find("/", cut + 1)
            self._index = index
        return dict(self._index.get(prefix, {}))


def under(outputs: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The names below ``prefix`` (see :meth:`Outputs.under`); a plain dict is scanned."""
    if isinstance(outputs, Outputs):
        return outputs.under(prefix)
    start = prefix + "/"
    return {name[len(start) :]: t for name, t in outputs.items() if name.startswith(start)}


@dataclass
class JobOutcome:
    kind: OutcomeKind
    outputs: dict[str, torch.Tensor] = field(default_factory=dict)
    failed_op: int | None = None  # index of the schedule op that failed, when the runner could tell
    limit: str | None = None  # "cpu" or "wall" for timeouts
    error_type: str = ""
    error_message: str = ""
    traceback: str = ""
    missing: list[str] = field(default_factory=list)
    detail: str = ""
    stdout: bytes = b""
    stderr: bytes = b""
    cpu_s: float = 0.0
    # the runner's CPU clock at its marks, read by the supervisor
    cpu_marks_ns: list[int] = field(default_factory=list)
    wall_s: float = 0.0
    max_rss_kb: int = 0
    roundtrip_s: float = 0.0
    start_s: float | None = None  # from the supervisor's start to a confined runner, when it got that far

    @property
    def ok(self) -> bool:
        return self.kind == "ok"

    def finished_ops(self, total: int) -> int:
        """How many schedule ops surely finished: all, those before the failing one, or none if unknown."""
        if self.ok:
            return total
        return self.failed_op if self.failed_op is not None and 0 <= self.failed_op < total else 0


def classify(reply: dict[str, Any], body: bytes, *, cpu_limit_s: float) -> JobOutcome:
    """The outcome of one job from the supervisor's ``reply`` header and the runner's tensor ``body``.

    Raises :class:`JobInterrupted` when the job ended in a way only the machine can explain (see
    docs/GRADING-FAULTS.md: who ends a job, and how the grader knows)."""
    if reply.get("type") == "lost":
        raise JobInterrupted(f"the job's supervisor did not finish ({str(reply.get('detail', ''))[:200]})")
    if reply.get("confine_failed"):
        problem = str(reply.get("problem") or "rlimits, descriptors, job directory, namespaces or Landlock")
        raise GraderError(
            f"the sandbox could not confine the submission ({problem[:300]}); nothing of it ran"
        )
    outcome = _from_runner(reply, body) if reply.get("result") == "ok" else None
    if reply.get("disk_limit"):  # the supervisor stopped a runner that filled its job directory
        outcome = JobOutcome("disk", detail=str(reply["disk_limit"]))
    elif reply.get("wall_timeout") and (outcome is None or outcome.kind != "timeout"):
        outcome = JobOutcome("timeout", limit="wall")
    if outcome is None:
        outcome = _without_result(reply, cpu_limit_s)
    outcome.stdout = _b64(reply.get("stdout"))
    outcome.stderr = _b64(reply.get("stderr"))
    outcome.cpu_s = float(reply.get("cpu_s", 0.0))
    outcome.cpu_marks_ns = _cpu_marks(reply.get("cpu_marks_ns"))
    outcome.wall_s = float(reply.get("wall_s", 0.0))
    outcome.max_rss_kb = int(reply.get("max_rss_kb", 0))
    start_s = reply.get("start_s")
    outcome.start_s = float(start_s) if isinstance(start_s, (int, float)) else None
    return outcome


CPU_SLACK_S = 0.05  # the CPU time the kernel accounts can read this much under the limit it enforced


def _without_result(reply: dict[str, Any], cpu_limit_s: float) -> JobOutcome:
    code = int(reply.get("exit_code", 0))
    if code < 0:
        number = -code
        at_cpu_limit = float(reply.get("cpu_s", 0.0)) >= cpu_limit_s - CPU_SLACK_S
        if number in (signal.SIGXCPU, signal.SIGKILL) and at_cpu_limit:
            return JobOutcome("timeout", limit="cpu")
        if number == signal.SIGKILL:
            # The runner cannot send SIGKILL (its seccomp filter refuses it), the supervisor's own kills are
            # the wall and disk limits handled above, and the kernel's RLIMIT_CPU kill is the case just above:
            # this one came from outside the job (another process, the OOM killer).
            raise JobInterrupted(
                f"the process running the submission was killed by SIGKILL from outside its sandbox, after "
                f"{float(reply.get('cpu_s', 0.0)):.3f} s of CPU and {float(reply.get('wall_s', 0.0)):.3f} s"
            )
        return JobOutcome("crashed", detail=_signal_name(number))
    if reply.get("result") == "missing":
        return JobOutcome("exited", detail=str(code))
    return JobOutcome("no_result", detail=str(reply.get("result_problem") or reply.get("result")))


def _from_runner(reply: dict[str, Any], body: bytes) -> JobOutcome | None:
    """The runner's own report, or None if it is not a well-formed one."""
    try:
        header = wire.decode_header(str(reply.get("runner", "")).encode("utf-8"))
        outputs = Outputs(safetensors.torch.load(body))
    except UNREADABLE:  # the student controls these bytes: any failure to read them is "no complete result"
        return None
    if header.get("status") == "ok":
        return JobOutcome("ok", outputs=outputs)
    kind = header.get("kind")
    op = header.get("op")
    if header.get("status") != "error" or type(op) is not int or op < 0 or not isinstance(kind, str):
        return None
    if kind not in RUNNER_KINDS:
        return None
    outcome = JobOutcome(RUNNER_KINDS[kind], outputs=outputs, failed_op=op)
    outcome.error_type = _text(header.get("type"))
    outcome.error_message = _text(header.get("message"))
    outcome.traceback = _text(header.get("traceback"))
    outcome.limit = "cpu" if header.get("limit") == "cpu" else "wall" if kind == "timeout" else None
    if header.get("stage") == "send":  # the outputs could not be packed: ``detail`` says what was used up
        resource = header.get("resource")
        outcome.detail = f"send:{resource if resource in SEND_RESOURCES else 'unknown'}"
    names = header.get("names")
    outcome.missing = [str(n) for n in names] if isinstance(names, list) else []
    return outcome


def _text(value: object) -> str:
    return value[:4000] if isinstance(value, str) else ""


def _b64(value: object) -> bytes:
    try:
        return base64.b64decode(str(value or ""), validate=True)
    except (binascii.Error, ValueError):
        return b""


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _cpu_marks(value: object) -> list[int]:
    """The supervisor's readings: non-decreasing non-negative integers, or nothing."""
    if not isinstance(value, list) or not all(type(x) is int and x >= 0 for x in value):
        return []
    return value if all(a <= b for a, b in itertools.pairwise(value)) else []
