"""A result the runner could not pack says what the student's code used up, never an empty reason.

Packing the outputs (already checked when each call returned) needs memory and nothing else the code can take
away but the process's shared resources: so the runner reports which one ran out (``unsendable``), the parent
checks that word against the known ones (the runner's header is the student's text) and says it in words.
"""

from __future__ import annotations

import errno
import sys

import pytest

from graders.exercise import ExerciseSpec
from graders.plan import Plan
from graders.problems import describe
from graders.sandbox.child import wire
from graders.sandbox.child.tensorwire import pack
from graders.sandbox.host import CHILD_DIR
from graders.sandbox.jobs import NOFILE
from graders.sandbox.outcome import classify

sys.path.insert(0, str(CHILD_DIR))  # the child's modules import one another by their bare names
from graders.sandbox.child import runner  # noqa: E402


@pytest.mark.parametrize(
    ("error", "resource", "kind"),
    [
        (MemoryError(), "memory", "memory"),
        (OSError(errno.ENOMEM, "Cannot allocate memory"), "memory", "memory"),
        (RuntimeError("DefaultCPUAllocator: can't allocate memory"), "memory", "memory"),
        (OSError(errno.EMFILE, "Too many open files"), "descriptors", "bad_output"),
        (RuntimeError("can't start new thread"), "threads", "bad_output"),
        (OSError(errno.EAGAIN, "Resource temporarily unavailable"), "threads", "bad_output"),
        (ValueError("something else"), "unknown", "bad_output"),
    ],
)
def test_the_runner_names_what_was_used_up(error: Exception, resource: str, kind: str) -> None:
    header = runner.unsendable(error, op=7)
    assert header == {"status": "error", "kind": kind, "op": 7, "stage": "send", "resource": resource}


def unsent_reply(resource: object, kind: str) -> dict[str, object]:
    header = {"status": "error", "kind": kind, "op": 3, "stage": "send", "resource": resource}
    raw = wire.encode(header, pack({}))
    text, _ = wire.split_raw(raw, max_body=1 << 20)
    return {"type": "result", "job": 1, "exit_code": 0, "result": "ok", "runner": text.decode()}


@pytest.mark.parametrize(
    ("resource", "kind", "verdict", "words"),
    [
        ("memory", "memory", "memory_limit", "used up its memory (the limit is"),
        ("descriptors", "bad_output", "runtime_error", f"file descriptors (the limit is {NOFILE} open"),
        ("threads", "bad_output", "runtime_error", "the threads it may start"),
        ("<b>forged</b>", "bad_output", "runtime_error", "could not be sent back to the grader."),
    ],
)
def test_the_student_is_told_what_was_used_up(
    fast_weight: ExerciseSpec, resource: str, kind: str, verdict: str, words: str
) -> None:
    reply = unsent_reply(resource, kind)
    outcome = classify(reply, pack({}), cpu_limit_s=1.0)
    problem = describe(fast_weight, Plan(fast_weight), outcome, lambda op: "correctness")
    assert (problem.verdict, problem.check_id) == (verdict, "correctness")
    assert words in problem.message and "forged" not in problem.message
    assert problem.message.strip(" .:") and "back:  (" not in problem.message
