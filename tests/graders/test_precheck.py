"""Pre-checks in the parent: a file that cannot be graded is rejected, with a message saying what to fix."""

from __future__ import annotations

import pytest

import graders
from graders.exercise import ExerciseSpec
from graders.precheck import MAX_SOURCE_BYTES
from tests.graders.submissions import FAST_WEIGHT


def rejection(spec: ExerciseSpec, source: bytes) -> str:
    report = graders.grade(spec, source)
    assert report.verdict == "rejected"
    assert report.score == 0.0
    assert report.sandbox.layers == []  # nothing ran
    first, *rest = report.checks
    assert first.id == "interface" and not first.passed
    assert all(not c.passed and c.message == "not run because the interface check failed" for c in rest)
    return first.message


def test_ten_megabyte_file_is_rejected_with_its_size_and_the_limit(fast_weight: ExerciseSpec) -> None:
    message = rejection(fast_weight, b"# x\n" * (10 * 1024 * 1024 // 4))
    assert "10,485,760 bytes" in message and f"{MAX_SOURCE_BYTES:,} bytes" in message


def test_file_just_under_the_limit_is_not_rejected_for_size(fast_weight: ExerciseSpec) -> None:
    source = FAST_WEIGHT.encode() + b"\n" + b"#" * (MAX_SOURCE_BYTES - len(FAST_WEIGHT) - 10)
    assert len(source) <= MAX_SOURCE_BYTES
    from graders.precheck import precheck

    assert isinstance(precheck(fast_weight, source), str)


def test_non_utf8_file_names_the_byte_offset(fast_weight: ExerciseSpec) -> None:
    source = b"import torch\n# caf\xe9\n"
    message = rejection(fast_weight, source)
    offset = source.index(0xE9)  # 18
    assert "not valid UTF-8" in message and f"offset {offset} (line 2)" in message


@pytest.mark.parametrize("source", [b"", b"   \n\t\n  "])
def test_empty_or_whitespace_file(fast_weight: ExerciseSpec, source: bytes) -> None:
    assert "empty" in rejection(fast_weight, source)


def test_nul_byte(fast_weight: ExerciseSpec) -> None:
    assert "NUL byte" in rejection(fast_weight, FAST_WEIGHT.encode() + b"\x00\n")


def test_syntax_error_gives_line_number_and_the_line(fast_weight: ExerciseSpec) -> None:
    source = b"import torch\n\ndef update(mem, k, v)\n    return mem\n"
    message = rejection(fast_weight, source)
    assert message.startswith("SyntaxError on line 3:")
    assert "def update(mem, k, v)" in message and "^" in message


def test_errors_found_only_by_the_compiler_are_syntax_errors_too(fast_weight: ExerciseSpec) -> None:
    assert rejection(fast_weight, b"return 1\n").startswith("SyntaxError on line 1:")


def test_indentation_error_is_named(fast_weight: ExerciseSpec) -> None:
    assert rejection(fast_weight, b"def init_memory(d):\nreturn d\n").startswith("IndentationError on line 2")


def test_missing_update_names_it_and_shows_every_signature(fast_weight: ExerciseSpec) -> None:
    source = FAST_WEIGHT.replace("def update(mem, k, v):", "def update_memory(mem, k, v):").encode()
    message = rejection(fast_weight, source)
    assert "does not define `update`" in message
    for signature in ("def init_memory(d)", "def update(mem, k, v)", "def read(mem, q)"):
        assert signature in message


def test_functions_bound_by_assignment_or_import_count_as_defined(fast_weight: ExerciseSpec) -> None:
    source = FAST_WEIGHT.replace("def read(mem, q):", "def _read(mem, q):") + "\nread = _read\n"
    from graders.precheck import precheck

    assert isinstance(precheck(fast_weight, source.encode()), str)


def test_rejected_report_has_the_schema_keys(fast_weight: ExerciseSpec) -> None:
    data = graders.grade(fast_weight, b"").to_dict()
    assert data["verdict"] == "rejected"
    assert set(data) == {
        "schema", "exercise", "verdict", "score", "checks", "sandbox",
        "stdout", "stderr", "grader_version", "submission_sha256", "timings",
    }  # fmt: skip
