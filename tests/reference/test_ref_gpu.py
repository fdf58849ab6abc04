"""CPU and CUDA give the same results for every model and every form (skipped with a reason where CUDA is absent).

Run them on a machine with a GPU: ``pytest -m gpu tests/reference``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

from reference import MODELS, ModelSpec, attend_scan
from reference.kernels import blocked_attention, chunked_linear_attention

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available on this machine"),
]

SPECS = [MODELS[model_id] for model_id in sorted(MODELS)]
ATTEND_SPECS = [spec for spec in SPECS if spec.attend_parallel is not None]
TOLERANCES = [(torch.float64, 1e-9), (torch.float32, 1e-4)]


def _hp(spec: ModelSpec) -> dict[str, Any]:
    return {name: p.default for name, p in spec.hyperparams.items()}


def _inputs(dtype: torch.dtype, T: int = 33) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    Q, K, V = (torch.randn(2, 3, T, 8, generator=g, dtype=torch.float64).to(dtype) for _ in range(3))
    return Q, K, V


def _assert_same(cuda: torch.Tensor, cpu: torch.Tensor, rel: float) -> None:
    assert cuda.device.type == "cuda" and cuda.dtype == cpu.dtype and cuda.shape == cpu.shape
    err = (cuda.cpu() - cpu).abs().max().item() if cpu.numel() else 0.0
    assert err <= rel * (1 + cpu.abs().max().item()), err


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
@pytest.mark.parametrize(("dtype", "rel"), TOLERANCES)
def test_states_agree_on_cpu_and_cuda(spec: ModelSpec, dtype: torch.dtype, rel: float) -> None:
    hp = _hp(spec)
    _, K, V = _inputs(dtype)
    forms = [spec.scan] + ([spec.parallel] if spec.parallel is not None else [])
    for form in forms:
        cpu, cuda = form(K, V, **hp), form(K.cuda(), V.cuda(), **hp)
        assert cpu.keys() == cuda.keys()
        for name in cpu:
            _assert_same(cuda[name], cpu[name], rel)
    k0, v0 = K[0, :, 0].cuda(), V[0, :, 0].cuda()  # (H, D): one step's pair, batch (H,)
    mem = spec.init(k0.shape[-1], batch=k0.shape[:-1], dtype=dtype, device="cuda", **hp)
    mem = spec.step(mem, k0, v0, **hp)
    assert all(x.device.type == "cuda" for x in mem.values())
    if spec.read is not None:
        assert spec.read(mem, K[0, :, 1].cuda(), **hp).device.type == "cuda"


@pytest.mark.parametrize("spec", ATTEND_SPECS, ids=lambda s: s.id)
@pytest.mark.parametrize(("dtype", "rel"), TOLERANCES)
def test_readouts_agree_on_cpu_and_cuda(spec: ModelSpec, dtype: torch.dtype, rel: float) -> None:
    """attend_parallel on CUDA equals it on CPU, and equals the step loop run on CUDA, past several blocks."""
    assert spec.attend_parallel is not None
    hp = _hp(spec)
    Q, K, V = _inputs(dtype, T=300)
    cpu = spec.attend_parallel(Q, K, V, **hp)
    cuda = spec.attend_parallel(Q.cuda(), K.cuda(), V.cuda(), **hp)
    _assert_same(cuda, cpu, rel)
    _assert_same(attend_scan(spec, Q.cuda(), K.cuda(), V.cuda(), **hp), cpu, rel)


@pytest.mark.parametrize(("dtype", "rel"), TOLERANCES)
def test_kernels_agree_on_cpu_and_cuda(dtype: torch.dtype, rel: float) -> None:
    Q, K, V = _inputs(dtype, T=500)

    def window(qpos: torch.Tensor, kpos: torch.Tensor) -> torch.Tensor:
        return (kpos <= qpos) & (kpos > qpos - 40)

    kernels: list[Callable[..., torch.Tensor]] = [
        lambda q, k, v: blocked_attention(q, k, v, block=32, lookback=40, visible=window),
        lambda q, k, v: chunked_linear_attention(q.exp(), k.exp(), v, chunk=16, normalize=True),
    ]
    for kernel in kernels:
        _assert_same(kernel(Q.cuda(), K.cuda(), V.cuda()), kernel(Q, K, V), rel)
