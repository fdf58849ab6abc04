"""The fast tensor packer of the sandbox wire and the prefix index of a job's outputs."""

from __future__ import annotations

import pytest
import safetensors.torch
import torch
from hypothesis import given
from hypothesis import strategies as st

from graders.sandbox.child.tensorwire import pack
from graders.sandbox.outcome import Outputs, under


def _tensors() -> dict[str, torch.Tensor]:
    base = torch.arange(10.0)
    return {
        "case/m/0/M": torch.randn(3, 4),
        "bf16": torch.randn(2, 3).bfloat16(),
        "half": torch.randn(5).half(),
        "f64": torch.randn(2, dtype=torch.float64),
        "flags": torch.tensor([True, False, True]),
        "i8": torch.arange(-3, 3, dtype=torch.int8),
        "i64": torch.arange(4),
        "empty": torch.zeros(0, 3),
        "scalar": torch.tensor(2.5),
        "transposed": torch.randn(4, 3).T,  # not contiguous: copied first
        "view/a": base[2:5],  # two views of one storage: each written on its own
        "view/b": base[3:8],
    }


def test_pack_round_trips_through_safetensors_load() -> None:
    sent = _tensors()
    back = safetensors.torch.load(pack(sent))
    assert set(back) == set(sent)
    for name, tensor in sent.items():
        assert back[name].dtype == tensor.dtype and back[name].shape == tensor.shape, name
        assert torch.equal(back[name], tensor), name


def test_pack_writes_the_same_bytes_as_safetensors_save() -> None:
    plain = {name: t.contiguous() for name, t in _tensors().items() if not name.startswith("view/")}
    assert pack(plain) == safetensors.torch.save(plain)
    assert pack({}) == safetensors.torch.save({})


def test_pack_refuses_what_is_not_a_dense_cpu_tensor() -> None:
    with pytest.raises(ValueError, match="dense CPU"):
        pack({"sparse": torch.eye(3).to_sparse()})


names = st.lists(
    st.lists(st.sampled_from(["a", "b", "m", "0", "1", ""]), min_size=1, max_size=4).map("/".join),
    unique=True,
    max_size=12,
)


@given(names, st.lists(st.sampled_from(["a", "a/b", "a/m/0", "b", "", "m", "a/"]), max_size=4))
def test_the_prefix_index_finds_exactly_what_a_scan_finds(saved: list[str], prefixes: list[str]) -> None:
    outputs = {name: torch.tensor(float(i)) for i, name in enumerate(saved)}
    indexed = Outputs(outputs)
    for prefix in prefixes:
        assert under(indexed, prefix) == under(outputs, prefix), prefix
