"""The report's JSON shape, output sanitising, and the frame format of the sandbox protocol."""

from __future__ import annotations

import os
import time

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from graders.checks.common import compare, fmt
from graders.exercise import Tolerance
from graders.report import CheckResult, Report, SandboxSummary, sanitize
from graders.sandbox import outcome
from graders.sandbox.child import wire
from graders.sandbox.child.tensorwire import pack
from graders.sandbox.outcome import classify


def sample_report() -> Report:
    checks = [
        CheckResult("interface", True, 10, 10, "ok"),
        CheckResult("correctness", False, 0, 50, "wrong", counterexample={"text": "t"}),
        CheckResult("recurrence", True, 40, 40, "ok"),
    ]
    return Report(
        "fast-weight-memory", "failed", checks, "ab" * 32, SandboxSummary(["rlimits"], 0.1, 0.2, 1000)
    )


def test_score_is_points_of_passed_checks_over_all_points() -> None:
    assert sample_report().score == 0.5


def test_report_round_trips_through_its_dict() -> None:
    report = sample_report()
    assert Report.from_dict(report.to_dict()).to_dict() == report.to_dict()


def test_sanitize_strips_escapes_and_controls_and_caps() -> None:
    text = sanitize(b"\x1b[2J\x1b]0;title\x07ok\r\n\ttab\x00\x08\xff\xe2\x80\xaeevil", cap=100)
    assert text == "ok\n\ttab\ufffdevil"
    assert sanitize("x" * 50, cap=10).startswith("x" * 10 + "\n… [40 more")


@given(st.binary(max_size=2000))
def test_sanitized_output_has_no_control_characters(data: bytes) -> None:
    text = sanitize(data, cap=500)
    assert all(ch in "\n\t" or (ord(ch) >= 32 and not 0x7F <= ord(ch) <= 0x9F) for ch in text)
    assert len(text) <= 500 + 60


def test_compare_fails_nan_and_passes_within_tolerance() -> None:
    tol = Tolerance(rtol=1e-5, atol=1e-6)
    assert compare(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0 + 1e-7], dtype=torch.float64), tol).ok
    assert not compare(torch.tensor([float("nan"), 2.0]), torch.tensor([1.0, 2.0]), tol).ok
    assert not compare(torch.tensor([1.0]), torch.tensor([1.1]), tol).ok


def test_numbers_are_printed_with_four_significant_digits() -> None:
    assert fmt(torch.tensor([[1.0, -0.0], [2 / 3, 12345.678]])) == "[[1, 0], [0.6667, 1.235e+04]]"


@given(
    st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8), max_size=5),
    st.binary(max_size=500),
)
def test_frames_round_trip(header: dict[str, object], body: bytes) -> None:
    assert wire.split(wire.encode(header, body), max_body=1000) == (header, body)


@pytest.mark.parametrize(
    ("mangle", "problem"),
    [
        (lambda f: f[:-1], "stops short"),
        (lambda f: f + b"x", "extra bytes"),
        (lambda f: b"XXXX" + f[4:], "magic"),
        (lambda f: f[:8] + (10**9).to_bytes(8, "big") + f[16:], "exceeds"),
    ],
)
def test_malformed_frames_are_rejected(mangle: object, problem: str) -> None:
    frame = wire.encode({"a": 1}, b"body")
    with pytest.raises(wire.FrameError, match=problem):
        wire.split(mangle(frame), max_body=1000)  # type: ignore[operator]


def test_reading_a_frame_checks_the_length_before_reading_and_honours_the_deadline() -> None:
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, wire.PREFIX.pack(wire.MAGIC, 2, 1 << 40))
        with pytest.raises(wire.FrameError, match="exceeds"):
            wire.read_frame(read_end, max_body=1 << 20, deadline=time.monotonic() + 1)
        os.write(write_end, wire.encode({"x": 1})[:5])
        started = time.monotonic()
        with pytest.raises(wire.FrameTimeout):
            wire.read_frame(read_end, max_body=10, deadline=time.monotonic() + 0.2)
        assert time.monotonic() - started < 2
    finally:
        os.close(read_end)
        os.close(write_end)


def test_unreadable_runner_bytes_are_no_result_and_nothing_else_is_swallowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Bytes the student shaped read as "no complete result"; an exception that is not about them (the worker's
    soft time limit, raised by a signal handler while the tensors are read) reaches the caller."""
    reply = {"type": "result", "result": "ok", "runner": '{"status": "ok"}', "exit_code": 0}
    assert classify(reply, b"not safetensors", cpu_limit_s=1.0).kind == "no_result"
    assert classify(reply, pack({"m": torch.ones(2)}), cpu_limit_s=1.0).kind == "ok"

    class SoftLimit(Exception):
        pass

    def interrupted(_: bytes) -> dict[str, torch.Tensor]:
        raise SoftLimit

    monkeypatch.setattr(outcome.safetensors.torch, "load", interrupted)
    with pytest.raises(SoftLimit):
        classify(reply, pack({"m": torch.ones(2)}), cpu_limit_s=1.0)
