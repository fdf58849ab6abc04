"""Every form runs on the device of its inputs, checked here without a GPU: on PyTorch's ``meta`` device.

A meta tensor has a shape, a dtype and a device but no data, so every op runs its shape logic only, and an op
that mixes a meta tensor with a CPU tensor (a mask or an ``arange`` built without ``device=``) raises, as it would
with a CUDA tensor; ``tests.support.devices.SameDevice`` closes the few ops where meta alone would let it pass.
That is the common way a reference form breaks on CUDA, and these tests catch it on any machine; ``test_ref_gpu.py``
then compares the numbers where CUDA is present. With no data to move, the bench's sizes cost nothing here, so the
parallel read-outs also run at n = 65536, d = 64, through the same code paths (chunk levels, groups, blocks) as
``make bench``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import torch

from benchmarks.reference.measure import bench_hp
from reference import MODELS, ModelSpec, attend_scan
from reference.delta_rule import unit_lower_inverse
from reference.kernels import band_attention, blocked_attention, chunked_linear_attention, decayed_sums
from reference.registry import defaults
from tests.support.devices import SameDevice

META = torch.device("meta")
SPECS = [MODELS[model_id] for model_id in sorted(MODELS)]
ATTEND_SPECS = [spec for spec in SPECS if spec.attend_parallel is not None]
# a step that decides on the host from the values in its state cannot run without data; each says why
HOST_READ_STEPS = {
    "summary-vectors": "its memory grows by one row when a chunk fills, and the step reads pos on the host to "
    "decide (a shape that depends on data); on CUDA that is one synchronising read, on meta there is no value",
}
BENCH_T, BENCH_D = 65536, 64


@pytest.fixture(autouse=True)
def same_device() -> Iterator[None]:
    """Meta alone lets a few ops take a CPU operand (``mul_``, ``mm``); the mode makes those fail as on CUDA."""
    with SameDevice():
        yield


def _inputs(T: int, D: int = 8, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    return tuple(torch.randn(2, 3, T, D, generator=g).to(dtype) for _ in range(3))


def _on_meta(*xs: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return tuple(x.to(META) for x in xs)


def _like(meta: torch.Tensor, cpu: torch.Tensor) -> None:
    """The meta result is where its inputs were, with the CPU result's shape and dtype."""
    assert meta.device == META, meta.device
    assert (tuple(meta.shape), meta.dtype) == (tuple(cpu.shape), cpu.dtype)


def _skip_host_read(spec: ModelSpec) -> None:
    if spec.id in HOST_READ_STEPS:
        pytest.skip(f"{spec.id}: {HOST_READ_STEPS[spec.id]}")


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_state_forms_stay_on_the_inputs_device(spec: ModelSpec, dtype: torch.dtype) -> None:
    hp = defaults(spec)
    _, K, V = _inputs(33, dtype=dtype)
    forms = [("parallel", spec.parallel)] if spec.parallel is not None else []
    if spec.id not in HOST_READ_STEPS:
        forms.insert(0, ("scan", spec.scan))
    assert forms, f"{spec.id}: no form to check"
    for name, form in forms:
        cpu, meta = form(K, V, **hp), form(*_on_meta(K, V), **hp)
        assert meta.keys() == cpu.keys(), name
        for key in cpu:
            _like(meta[key], cpu[key])


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_step_and_read_stay_on_the_inputs_device(spec: ModelSpec) -> None:
    _skip_host_read(spec)
    hp: dict[str, Any] = defaults(spec)
    Q, K, V = _inputs(2)
    k, v, q = K[..., 0, :], V[..., 0, :], Q[..., 1, :]  # (2, 3, D) each: one step's pair, batch (2, 3)

    def run(device: torch.device) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
        mem = spec.init(k.shape[-1], batch=k.shape[:-1], dtype=k.dtype, device=device, **hp)
        mem = spec.step(mem, k.to(device), v.to(device), **hp)
        return mem, None if spec.read is None else spec.read(mem, q.to(device), **hp)

    (cpu_mem, cpu_y), (meta_mem, meta_y) = run(torch.device("cpu")), run(META)
    assert meta_mem.keys() == cpu_mem.keys()
    for key in cpu_mem:
        _like(meta_mem[key], cpu_mem[key])
    if cpu_y is not None:
        assert meta_y is not None
        _like(meta_y, cpu_y)


@pytest.mark.parametrize("spec", ATTEND_SPECS, ids=lambda s: s.id)
def test_readouts_stay_on_the_inputs_device(spec: ModelSpec) -> None:
    """Past several blocks (T = 300, as the GPU test), against the CPU's shape; and the step loop's read-outs."""
    assert spec.attend_parallel is not None
    hp = defaults(spec)
    Q, K, V = _inputs(300)
    cpu = spec.attend_parallel(Q, K, V, **hp)
    _like(spec.attend_parallel(*_on_meta(Q, K, V), **hp), cpu)
    if spec.id not in HOST_READ_STEPS:
        _like(
            attend_scan(spec, *_on_meta(Q[..., :20, :], K[..., :20, :], V[..., :20, :]), **hp),
            cpu[..., :20, :],
        )


@pytest.mark.parametrize("spec", ATTEND_SPECS, ids=lambda s: s.id)
def test_readouts_at_the_bench_size_stay_on_the_inputs_device(spec: ModelSpec) -> None:
    """n = 65536, d = 64 with the bench's hyper-parameters: the paths only long sequences take (a second level
    of chunk sums, many summary groups) run on the inputs' device too."""
    assert spec.attend_parallel is not None
    hp = bench_hp(spec)
    Q, K, V = (torch.empty(1, 1, BENCH_T, BENCH_D, device=META) for _ in range(3))
    out = spec.attend_parallel(Q, K, V, **hp)
    assert (out.device, tuple(out.shape), out.dtype) == (META, (1, 1, BENCH_T, BENCH_D), torch.float32)


def test_kernels_stay_on_the_inputs_device() -> None:
    Q, K, V = _inputs(500)

    def window(qpos: torch.Tensor, kpos: torch.Tensor) -> torch.Tensor:
        return (kpos <= qpos) & (kpos > qpos - 40)

    kernels = {
        "blocked_attention": lambda q, k, v: blocked_attention(
            q, k, v, block=32, lookback=40, visible=window
        ),
        "band_attention": lambda q, k, v: band_attention(
            q, k, v, width=40, block=16, start=3, extra_k=k[..., :4, :], extra_v=v[..., :4, :]
        ),
        "chunked_linear_attention": lambda q, k, v: chunked_linear_attention(
            q, k, v, chunk=16, normalize=True
        ),
        "decayed_sums": lambda q, k, v: decayed_sums(
            v, 0.9, 0.1, 4, row_scale=torch.arange(1.0, 501.0).to(v.device)
        ),
        "unit_lower_inverse": lambda q, k, v: unit_lower_inverse(
            (q @ k.transpose(-1, -2)).tril(-1)[..., :40, :40]
        ),
    }
    for kernel in kernels.values():
        _like(kernel(*_on_meta(Q, K, V)), kernel(Q, K, V))


def test_a_host_tensor_among_meta_inputs_is_caught() -> None:
    """The premise of this file: mixing in a CPU tensor fails here as it would on CUDA, a CPU scalar does not."""
    x = torch.empty(4, 8, device=META)
    host = torch.ones(8, 8)
    for mixed in (
        lambda: x.masked_fill(host[:4].bool(), 0.0),
        lambda: x @ host,
        lambda: x[:, :8].mul_(host[:4]),
    ):
        with pytest.raises((RuntimeError, AssertionError)):
            mixed()
    assert (x * torch.tensor(2.0)).device == META
    with pytest.raises((RuntimeError, AssertionError)):
        decayed_sums(x, 0.9, 0.1, 2, row_scale=torch.arange(1.0, 5.0))
