"""The fixed command line (GRADING.md §5), run as a student or an instructor would, in a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.graders.submissions import FAST_WEIGHT

REPO = Path(__file__).resolve().parents[2]
REPORT_KEYS = {
    "schema", "exercise", "verdict", "score", "checks", "sandbox",
    "stdout", "stderr", "grader_version", "submission_sha256", "timings",
}  # fmt: skip
# GRADING.md §3: "every check reports points, max points, passed, a message …, and, where useful, a counterexample
# and a plot" (the plot as data, drawn by graders.plots)
CHECK_KEYS = {"id", "passed", "points", "max_points", "message", "counterexample", "hidden", "plot", "ran"}


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "graders", *args],
        cwd=REPO,
        env=env or os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_grade_json_on_an_honest_solution_passes_and_hides_the_parents_secrets(tmp_path: Path) -> None:
    # the submission prints its environment: a secret in the grader's environment must not be there
    submission = tmp_path / "honest.py"
    submission.write_text("import os\nprint(sorted(os.environ))\n" + FAST_WEIGHT)
    env = os.environ | {"MEMLAB_FAKE_SECRET": "hunter2", "DJANGO_SECRET_KEY": "not-for-students"}
    result = run_cli("grade", "fast-weight-memory", str(submission), "--json", env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == REPORT_KEYS
    assert all(set(check) == CHECK_KEYS for check in report["checks"])
    assert set(report["sandbox"]) == {"layers", "cpu_s", "wall_s", "max_rss_kb"}
    assert report["schema"] == 1 and report["verdict"] == "passed" and report["score"] == 1.0
    assert report["exercise"] == "fast-weight-memory"
    assert "hunter2" not in report["stdout"] and "SECRET" not in report["stdout"]


def test_grade_summary_and_exit_status_zero_for_a_failed_verdict(tmp_path: Path) -> None:
    submission = REPO / "content/exercises/cumulative-average-memory/wrong/one_based_count.py"
    result = run_cli("grade", "cumulative-average-memory", str(submission))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("cumulative-average-memory: failed (score 0.09)")
    assert "[FAIL] correctness" in result.stdout and "but it should be" in result.stdout


def test_grade_rejects_a_syntax_error_with_its_line(tmp_path: Path) -> None:
    submission = tmp_path / "broken.py"
    submission.write_text("import torch\n\ndef init_memory(d:\n    pass\n")
    result = run_cli("grade", str(REPO / "content/exercises/fast-weight-memory"), str(submission), "--json")
    assert result.returncode == 0
    report = json.loads(result.stdout)
    assert report["verdict"] == "rejected"
    assert "on line 3" in report["checks"][0]["message"]


def test_unknown_exercise_is_a_usage_error(tmp_path: Path) -> None:
    submission = tmp_path / "x.py"
    submission.write_text(FAST_WEIGHT)
    result = run_cli("grade", "no-such-exercise", str(submission), "--json")
    assert result.returncode == 2
    assert "no exercise 'no-such-exercise'" in result.stderr and "fast-weight-memory" in result.stderr


def test_validate_exit_status(tmp_path: Path) -> None:
    result = run_cli("validate", "fast-weight-memory")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "wrong/history.py: expected fails recurrence" in result.stdout


def test_list_shows_exercises_and_every_reference_model() -> None:
    result = run_cli("list")
    assert result.returncode == 0, result.stderr
    for name in ("fast-weight-memory", "cumulative-average-memory"):
        assert name in result.stdout
    import reference

    listed = result.stdout.split("reference models:")[1]
    for model in reference.MODELS.values():
        assert f"  {model.id} " in listed, model.id
        assert model.cost_per_step in listed and model.title in listed
    assert "growing" in listed and "fixed-size" in listed


@pytest.mark.parametrize("modules", [("graders",), ("graders", "reference")])
def test_grader_and_reference_never_import_the_web_stack(modules: tuple[str, ...]) -> None:
    code = (
        f"import sys; import {', '.join(modules)}\n"
        "import graders.grading, graders.cli, graders.validation\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'celery', 'kombu', 'apps', 'config'))\n"
        "print(bad)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_importing_graders_alone_does_not_load_torch() -> None:
    code = "import sys, graders; print('torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "False", result.stderr
