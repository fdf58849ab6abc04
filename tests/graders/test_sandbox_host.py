"""The parent's zygote handle when the zygote itself is broken: an infrastructure fault, never a verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import graders
from graders import cli
from graders.errors import GraderError
from graders.exercise import ExerciseSpec
from graders.sandbox import host as host_module
from graders.sandbox.host import SandboxBroken, ZygoteHost
from graders.sandbox.jobs import Job, run_job


@pytest.mark.parametrize(
    "launcher",
    [
        "import sys\nsys.exit(1)\n",  # dies before saying ready
        "import os, sys\nfd = int(sys.argv[-1])\nos.write(fd, b'not a frame at all')\n",  # speaks garbage
    ],
)
def test_a_broken_zygote_raises_grader_error(
    launcher: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "launch.py").write_text(launcher)
    monkeypatch.setattr(host_module, "CHILD_DIR", tmp_path)
    broken = ZygoteHost(start_timeout_s=5)
    try:
        with pytest.raises(SandboxBroken) as info:
            run_job(Job("x = 1\n", [{"op": "module", "require": []}]), broken)
        assert isinstance(info.value, GraderError)
    finally:
        broken.close()


def test_cli_prints_an_internal_error_report_and_fails_when_the_grader_fails(
    fast_weight: ExerciseSpec,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def failing_grade(spec: ExerciseSpec, source: bytes) -> graders.Report:
        raise GraderError("zygote exploded")

    monkeypatch.setattr(graders, "grade", failing_grade)
    submission = tmp_path / "s.py"
    submission.write_text(fast_weight.solution)
    status = cli.main(["grade", "fast-weight-memory", str(submission), "--json"])
    assert status == cli.EXIT_GRADER_FAILED
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"] == "internal_error" and "zygote exploded" in report["checks"][0]["message"]
