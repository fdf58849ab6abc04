"""What a student is told when their code did not run to the end of a job (and which verdict that is)."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass

from graders.checks import interface
from graders.exercise import ExerciseSpec
from graders.plan import Call, Plan
from graders.report import Verdict, sanitize
from graders.sandbox.jobs import NOFILE
from graders.sandbox.outcome import JobOutcome

VERDICTS: dict[str, Verdict] = {
    "error": "runtime_error",
    "missing": "failed",
    "bad_output": "invalid_output",
    "memory": "memory_limit",
    "timeout": "timeout",
    "crashed": "runtime_error",
    "exited": "runtime_error",
    "no_result": "runtime_error",
    "disk": "runtime_error",
}
SENT_TOO_MUCH = {  # a result that could not be sent back, by what the student's code had used up
    "memory": "its memory (the limit is {memory_mb} MB on top of the interpreter)",
    "descriptors": "its file descriptors (the limit is {nofile} open at once)",
    "threads": "the threads it may start",
}


@dataclass(frozen=True)
class Problem:
    verdict: Verdict
    check_id: str
    message: str
    hidden: bool = False


def describe(
    spec: ExerciseSpec, plan: Plan, outcome: JobOutcome, check_for: Callable[[int | None], str]
) -> Problem:
    """The verdict, the check to blame and the message for a job that did not finish normally."""
    call = (
        plan.calls[outcome.failed_op]
        if outcome.failed_op is not None and outcome.failed_op < len(plan.calls)
        else None
    )
    hidden = call is not None and call.case is not None and call.case.hidden
    unsent = outcome.detail.startswith("send:")  # every call ran; sending their results back failed
    blame_interface = outcome.kind in ("missing", "bad_output") and not unsent
    check_id = "interface" if blame_interface else check_for(outcome.failed_op)
    where = call.where() if call is not None else f"during the {check_id} check"
    verdict: Verdict = "runtime_error" if unsent and outcome.kind == "bad_output" else VERDICTS[outcome.kind]
    return Problem(verdict, check_id, _message(spec, outcome, call, where, hidden), hidden)


def _message(spec: ExerciseSpec, outcome: JobOutcome, call: Call | None, where: str, hidden: bool) -> str:
    limits = spec.limits
    kind = outcome.kind
    if kind == "error":
        return _raised(outcome, where, hidden)
    if kind == "missing":
        return interface.missing_message(spec, outcome.missing)
    if outcome.detail.startswith("send:"):
        return _unsent(spec, outcome.detail.removeprefix("send:"), where)
    if kind == "bad_output" and hidden:  # the child's text names the student's own types and keys: no echo
        return f"Your code returned something other than a dict of plain tensors or a plain tensor ({where})."
    if kind == "bad_output":
        return f"{sanitize(outcome.error_message, 1000)} ({where})."
    if kind == "memory":
        return f"Your code ran out of memory {where}: the limit is {limits.memory_mb} MB on top of the interpreter."
    if kind == "timeout" and outcome.limit == "cpu":
        return (
            f"Your code used more than the CPU time limit of {limits.cpu_s} s {where}. "
            "Look for an infinite loop, or for work that grows with every step."
        )
    if kind == "timeout":
        return (
            f"Your code ran longer than the wall-clock limit of {limits.wall_s:g} s {where}. "
            "It may be waiting (sleep, input) or looping."
        )
    if kind == "disk":
        what = "files" if outcome.detail.startswith("files") else "megabytes"
        bound = outcome.detail.split(":")[-1]
        amount = f"{int(bound) >> 20} MB" if what == "megabytes" else f"{bound} files"
        return (
            f"Your code wrote more than {amount} into its working folder {where}, and was stopped. A memory "
            "update needs no files: keep everything in the tensors you return."
        )
    if kind == "crashed":
        return f"The process running your code was killed by {outcome.detail} {where}."
    if kind == "exited":
        return (
            f"Your code ended the process (exit status {outcome.detail}) before it returned a result. "
            "Do not call exit(), sys.exit() or os._exit(): just define the functions."
        )
    if kind == "no_result":
        return (
            "The process running your code sent back a result the grader could not read. "
            "Do not write to or close file descriptors that your code did not open."
        )
    raise AssertionError(f"no message for a job outcome of kind {kind!r}")


def _unsent(spec: ExerciseSpec, resource: str, where: str) -> str:
    """Every call ran, but the results could not be packed to be sent back: say what the code had used up."""
    used = SENT_TOO_MUCH.get(resource)
    if used is None:
        return f"Your functions ran {where}, but their results could not be sent back to the grader."
    limits = {"memory_mb": spec.limits.memory_mb, "nofile": NOFILE}
    return (
        f"Your functions ran {where}, but your code had used up {used.format(**limits)}, so their results "
        "could not be sent back to the grader. Keep nothing between calls that the memory does not need: no "
        "growing lists, open files or threads left running."
    )


def _raised(outcome: JobOutcome, where: str, hidden: bool) -> str:
    name = sanitize(outcome.error_type, 100) or "an exception"
    if name == "SystemExit":
        return f"Your code called exit() {where}. A submission should only define functions; remove the call."
    if hidden:  # the message and values could reveal the hidden inputs: only the type, if a built-in one
        # (a class name is the student's text too: type("k_0 = ...", (Exception,), {}) would carry the inputs)
        builtin = getattr(builtins, name, None)
        known = isinstance(builtin, type) and issubclass(builtin, BaseException)
        return f"Your code raised {name if known else 'an exception'} {where}."
    return f"Your code raised {name} {where}:\n\n{sanitize(outcome.traceback, 3000)}"
