"""The reference benchmark's plumbing at tiny sizes: its JSON, its correctness check, its honesty about skipped
loops. No timing assertions (docs: benchmarks are not tests)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import torch

from benchmarks import reference as bench
from benchmarks.reference.ops import kernel_ops
from reference import get_model

MODEL = "cumulative-average"


def _cfg(**overrides: Any) -> bench.Config:
    tiny: dict[str, Any] = dict(sizes=[256], models=[MODEL], copy_mib=4, matmul_n=128)
    return bench.Config.quick_run(**{**tiny, **overrides})


def test_quick_run_writes_the_whole_json(tmp_path: Path) -> None:
    result = bench.run(_cfg(), log=lambda _line: None)
    data = json.loads(bench.write_json(result, tmp_path / "reference.json").read_text())

    assert {"machine", "config", "hardware", "models", "window", "targets", "outputs_match", "wall_s"} <= set(
        data
    )
    assert {"cpu", "cores", "torch", "torch_threads", "date", "platform"} <= set(data["machine"])
    assert data["hardware"]["bandwidth"]["bytes_per_s"] > 0 and data["hardware"]["matmul"]["flop_per_s"] > 0
    row = data["models"][MODEL]["sizes"]["256"]
    for key in ("median_s", "min_s", "max_s"):
        assert row["parallel"][key] > 0 and row["loop"][key] > 0
    assert row["correct"] is True and row["max_rel_err"] <= bench.REL_TOL
    assert row["speedup"] > 0 and row["ratio_to_limit"] > 0 and row["limit"]["bound"] in ("compute", "memory")
    targets = data["models"][MODEL]["targets"]
    assert targets["n"] == 256 and {"speedup_met", "ratio_met", "output_matches_loop", "met"} <= set(targets)
    assert data["targets"]["per_model"][MODEL] == targets and data["outputs_match"] is True
    assert row["kernel_ops"]["total"] > 0
    assert MODEL in bench.format_report(data)


def test_a_wrong_parallel_form_is_flagged() -> None:
    spec = get_model(MODEL)
    right = spec.attend_parallel
    assert right is not None

    def off_by_a_bit(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, **hp: Any) -> torch.Tensor:
        return right(Q, K, V, **hp) * 1.01

    model = bench.bench_model(dataclasses.replace(spec, attend_parallel=off_by_a_bit), _cfg(), lambda _: None)
    row = model["sizes"]["256"]
    assert row["correct"] is False and row["max_rel_err"] > bench.REL_TOL
    assert model["targets"]["output_matches_loop"] is False and model["targets"]["met"] is False


def test_rel_error_catches_shape_and_non_finite_outputs() -> None:
    y = torch.randn(1, 1, 8, 4)
    assert bench.rel_error(y, y.clone()) == 0.0
    assert bench.rel_error(y[..., :7, :], y) == float("inf")
    assert bench.rel_error(torch.full_like(y, float("nan")), y) == float("inf")


def test_a_growing_loop_past_the_cap_is_not_run_and_its_estimate_is_labelled() -> None:
    growing = dataclasses.replace(get_model(MODEL), fixed_size=False)
    cfg = _cfg(sizes=[64, 128, 256], growing_loop_cap=128)
    model = bench.bench_model(growing, cfg, lambda _: None)
    skipped = model["sizes"]["256"]
    assert skipped["loop"]["run"] is False and "growing memory" in skipped["loop"]["reason"]
    assert skipped["speedup"] is None and skipped["correct"] is None
    assert skipped["loop"]["extrapolated"] is True and skipped["loop"]["how"]
    assert model["targets"]["speedup_basis"] == "extrapolated"


def test_device_option_names_its_own_results_file() -> None:
    from benchmarks.reference.cli import parse_args

    cfg, path = parse_args(["--device", "cuda", "--quick"])
    assert cfg.device == "cuda" and path.name == "reference-cuda-quick.json"
    cfg, path = parse_args([])
    assert cfg.device == "cpu" and path.name == "reference.json"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available on this machine")
def test_a_cuda_run_times_the_gpu_forms(tmp_path: Path) -> None:
    result = bench.run(_cfg(device="cuda"), log=lambda _line: None)
    assert result["hardware"]["device"] == torch.cuda.get_device_name()
    assert result["outputs_match"] is True


def test_each_size_is_held_to_the_machines_best_rate_measured_next_to_it() -> None:
    model = bench.bench_model(get_model(MODEL), _cfg(), lambda _: None)
    limit = model["sizes"]["256"]["limit"]
    assert limit["flop_per_s"] > 0 and limit["bytes_per_s"] > 0
    assert limit["time_s"] == max(limit["flops"] / limit["flop_per_s"], limit["bytes"] / limit["bytes_per_s"])
    assert bench.faster({"flop_per_s": 1.0, "bytes_per_s": 5.0}, {"flop_per_s": 3.0, "bytes_per_s": 2.0}) == {
        "flop_per_s": 3.0,
        "bytes_per_s": 5.0,
    }


def test_kernel_ops_count_what_computes_once() -> None:
    """Views, reshapes and allocations launch nothing; a fused attention call is one op, not its math path."""

    def form(x: torch.Tensor) -> torch.Tensor:
        y = x.new_empty(x.shape)  # an allocation: not counted
        torch.mul(x, 2.0, out=y)  # 1
        z = y.reshape(-1, 4).t().unsqueeze(0)[..., :2]  # views only
        att = torch.nn.functional.scaled_dot_product_attention(x, x, x)  # 1, whatever runs inside
        return (z @ z.transpose(-1, -2)).relu_() + att.sum()  # bmm, relu_, sum, add: 4

    counted = kernel_ops(form, (2, 3, 4))
    assert counted["total"] == 6, counted
    assert counted["most"]["scaled_dot_product_attention"] == 1


def test_a_loop_over_chunks_shows_in_the_op_count() -> None:
    """The delta rule's state passes chunk to chunk in a Python loop: its op count grows with n; a form without
    such a loop does not."""
    delta, fast = get_model("delta-rule"), get_model("fast-weight")
    assert delta.attend_parallel is not None and fast.attend_parallel is not None

    def ops(form: Any, n: int) -> int:
        total: int = kernel_ops(form, *[(1, 1, n, 8)] * 3)["total"]
        return total

    assert ops(delta.attend_parallel, 64 * 40) - ops(delta.attend_parallel, 64 * 20) >= 20
    assert ops(fast.attend_parallel, 64 * 40) == ops(fast.attend_parallel, 64 * 20)


def test_the_bench_sizes_name_registered_models_and_are_in_range() -> None:
    from benchmarks.reference.measure import BENCH_HP, bench_hp
    from reference import MODELS

    assert set(BENCH_HP) <= set(MODELS)  # a renamed model would silently fall back to its defaults
    for model_id in BENCH_HP:
        bench_hp(MODELS[model_id])  # raises unless each value is a known hyper-parameter in range
