"""Jobs: what one sandbox run executes, and running it on the zygote."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import torch

from graders.sandbox.child.tensorwire import pack
from graders.sandbox.host import SandboxBroken, ZygoteHost, default_host, job_timeout_s
from graders.sandbox.limits import Limits
from graders.sandbox.outcome import JobInterrupted, JobOutcome, classify

FSIZE_MB = 16
NOFILE = 64
NPROC = 64
MAX_RESULT_BYTES = 32 << 20
CAPTURE_BYTES = 64 << 10
_ids = itertools.count(1)


@dataclass
class Job:
    source: str
    schedule: list[dict[str, Any]]
    inputs: dict[str, torch.Tensor] = field(default_factory=dict)
    params: dict[str, int | float] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    body: bytes | None = None  # ``inputs`` packed already (``Plan.body``); packed here when None

    def header(self) -> dict[str, Any]:
        return {
            "type": "job",
            "id": next(_ids),
            "source": self.source,
            "schedule": self.schedule,
            "params": self.params,
            "limits": {
                "wall_s": self.limits.wall_s,
                "cpu_s": math.ceil(self.limits.cpu_s),
                "memory_mb": self.limits.memory_mb,
                "fsize_mb": FSIZE_MB,
                "nofile": NOFILE,
                "nproc": NPROC,
            },
            "max_result_bytes": MAX_RESULT_BYTES,
            "capture_bytes": CAPTURE_BYTES,
        }


def run_job(job: Job, host: ZygoteHost | None = None) -> JobOutcome:
    """Run ``job``; when the machine, not the submission, ended it (a broken zygote, which is restarted, or a job
    interrupted from outside) it runs once more before ``SandboxBroken`` or ``JobInterrupted`` reaches the caller.
    A job is a pure function of its plan, so running it again changes nothing but the time it takes."""
    host = host or default_host()
    body = pack(job.inputs) if job.body is None else job.body
    for attempt in (1, 2):
        try:
            reply = host.request(job.header(), body, timeout_s=job_timeout_s(job.limits.wall_s))
            outcome = classify(reply.header, reply.body, cpu_limit_s=float(job.limits.cpu_s))
        except (SandboxBroken, JobInterrupted):
            if attempt == 2:
                raise
            continue
        outcome.roundtrip_s = reply.roundtrip_s
        return outcome
    raise AssertionError("unreachable: the second attempt returns or raises")
