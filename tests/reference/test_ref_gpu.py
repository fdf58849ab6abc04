"""CPU and CUDA give the same results (skipped with a reason where CUDA is absent)."""

from __future__ import annotations

import pytest
import torch

from reference import MODELS, ModelSpec
from reference.fast_weight import fast_weight_attend_parallel, fast_weight_attend_scan

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available on this machine"),
]

SPECS = [MODELS[model_id] for model_id in sorted(MODELS)]


def _inputs(dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    Q, K, V = (torch.randn(2, 3, 33, 8, generator=g, dtype=torch.float64).to(dtype) for _ in range(3))
    return Q, K, V


def _assert_same(cuda: torch.Tensor, cpu: torch.Tensor, rel: float) -> None:
    assert cuda.device.type == "cuda" and cuda.dtype == cpu.dtype and cuda.shape == cpu.shape
    err = (cuda.cpu() - cpu).abs().max().item()
    assert err <= rel * (1 + cpu.abs().max().item()), err


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
@pytest.mark.parametrize(("dtype", "rel"), [(torch.float64, 1e-9), (torch.float32, 1e-4)])
def test_models_agree_on_cpu_and_cuda(spec: ModelSpec, dtype: torch.dtype, rel: float) -> None:
    hp = {name: p.default for name, p in spec.hyperparams.items()}
    _, K, V = _inputs(dtype)
    forms = [spec.scan] + ([spec.parallel] if spec.parallel is not None else [])
    for form in forms:
        cpu, cuda = form(K, V, **hp), form(K.cuda(), V.cuda(), **hp)
        for name in cpu:
            _assert_same(cuda[name], cpu[name], rel)
    mem = spec.init(8, batch=(2,), dtype=dtype, device="cuda", **hp)
    mem = spec.step(mem, K[0, :, 0].cuda(), V[0, :, 0].cuda(), **hp)
    assert all(x.device.type == "cuda" for x in mem.values())
    if spec.read is not None:
        assert spec.read(mem, K[0, :, 1].cuda(), **hp).device.type == "cuda"


@pytest.mark.parametrize(("dtype", "rel"), [(torch.float64, 1e-9), (torch.float32, 1e-4)])
def test_fast_weight_readouts_agree_on_cpu_and_cuda(dtype: torch.dtype, rel: float) -> None:
    Q, K, V = _inputs(dtype)
    for attend in (fast_weight_attend_scan, fast_weight_attend_parallel):
        _assert_same(attend(Q.cuda(), K.cuda(), V.cuda()), attend(Q, K, V), rel)
