"""Plots in the report: data a check attaches (never a hidden case), drawn as SVG only where shown."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import graders
from graders.exercise import ExerciseSpec
from graders.plots import svg

pytestmark = pytest.mark.usefixtures("sandbox")
REPO = Path(__file__).resolve().parents[2]


def _source(spec: ExerciseSpec, file: str) -> bytes:
    return next(w.source for w in spec.wrong if w.file == file).encode()


def test_correctness_plots_a_visible_trajectory_with_the_gap_to_the_reference(
    fast_weight: ExerciseSpec,
) -> None:
    report = graders.grade(fast_weight, _source(fast_weight, "transposed.py"))
    plot = report.check("correctness").plot  # type: ignore[union-attr]
    assert plot is not None and plot["kind"] == "trajectory" and "hidden" not in plot["title"]
    names = [line["name"] for line in plot["series"]]
    assert names[:3] == ["M: reference", "M: yours", "M: yours − reference"] and "read: yours" in names
    gap = next(line for line in plot["series"] if line["name"] == "M: yours − reference")
    assert max(gap["y"]) > 0  # a transposed memory has the right norm but not the right entries
    assert json.loads(json.dumps(report.to_dict()))["checks"][1]["plot"] == plot


def test_step_cost_plots_cumulative_work_against_a_linear_guide(fast_weight: ExerciseSpec) -> None:
    report = graders.grade(fast_weight, _source(fast_weight, "rebuilt_check.py"))
    plot = report.check("step_cost").plot  # type: ignore[union-attr]
    assert plot is not None and plot["kind"] == "cost" and plot["log"]
    elements = next(line for line in plot["series"] if line["name"] == "tensor elements")
    guide = next(line for line in plot["series"] if "declared" in line["name"])
    assert (
        elements["y"][-1] / elements["y"][0] > 4 * guide["y"][-1] / guide["y"][0]
    )  # grows faster than linear


def test_every_plot_draws_as_an_svg_document(fast_weight: ExerciseSpec) -> None:
    report = graders.grade(fast_weight, fast_weight.solution.encode())
    plots = [c.plot for c in report.checks if c.plot is not None]
    assert {p["kind"] for p in plots} == {"trajectory", "cost"}
    for plot in plots:
        text = svg(plot)
        assert text.lstrip().startswith("<?xml") and "<svg" in text and plot["title"] in text


def test_the_cli_writes_one_svg_per_plotted_check(tmp_path: Path) -> None:
    solution = REPO / "content" / "exercises" / "window-attention" / "solution.py"
    cmd = [
        sys.executable,
        "-m",
        "graders",
        "grade",
        "window-attention",
        str(solution),
        "--plots",
        str(tmp_path),
    ]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["complexity.svg", "correctness.svg"]
