"""The batched comparison agrees with the one-pair comparison it replaces, step for step."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from graders.checks.common import compare, compare_steps
from graders.exercise import Tolerance

TOL = Tolerance(rtol=1e-5, atol=1e-6)


@settings(max_examples=60, deadline=None)
@given(
    steps=st.integers(1, 12),
    shape=st.sampled_from([(), (3,), (2, 4)]),
    seed=st.integers(0, 2**16),
    broken=st.sets(st.integers(0, 11), max_size=4),
    poison=st.sampled_from([None, math.nan, math.inf]),
)
def test_compare_steps_matches_compare_at_every_step(
    steps: int, shape: tuple[int, ...], seed: int, broken: set[int], poison: float | None
) -> None:
    gen = torch.Generator().manual_seed(seed)
    expected = [torch.randn(shape, generator=gen, dtype=torch.float64) for _ in range(steps)]
    got = [e.to(torch.float32) for e in expected]  # equal up to float32 rounding
    for t in broken & set(range(steps)):
        got[t] = got[t] + 1.0 if poison is None else torch.full(shape, poison)
    found = compare_steps(got, expected, TOL)
    assert found is not None
    ok, relative = found
    for t in range(steps):
        one = compare(got[t], expected[t], TOL)
        assert bool(ok[t]) == one.ok, t
        assert relative[t].item() == pytest.approx(one.relative_error, rel=1e-12, nan_ok=True), t


def test_compare_steps_gives_way_when_the_shape_changes_between_steps() -> None:
    growing = [torch.zeros(t + 1, 2) for t in range(4)]  # a cache that grows by one row a step
    assert compare_steps(growing, growing, TOL) is None
    assert compare_steps([torch.zeros(2)], [torch.zeros(3)], TOL) is None


@pytest.mark.parametrize("where", [None, (0, 0), (3, 1), (7, -1)])
def test_first_mismatch_finds_the_same_step_and_item_as_the_step_by_step_loop(
    where: tuple[int, int] | None,
) -> None:
    """Step first, then the memory's keys in order, then the read-out; the largest error of the matches before."""
    import graders
    import reference
    from graders.cases import make_cases
    from graders.checks import correctness
    from graders.plan import Trajectory

    spec = graders.load_exercise("fast-weight-memory")
    model = reference.get_model(spec.model)
    case = next(c for c in make_cases(spec) if c.T > 8)
    ref = correctness.reference_trajectory(model, spec, case)
    states = [{k: v.to(torch.float32) for k, v in s.items()} for s in ref.states]
    reads = [r.to(torch.float32) for r in ref.reads]
    items = [*spec.state, "read"]
    if where is not None:
        t, item = where
        key = items[item]
        if key == "read":
            reads[t] = reads[t] + 1.0
        else:
            states[t][key] = states[t][key] + 1.0
    mine = Trajectory(case, states, reads)
    fast, fast_worst = correctness.first_mismatch(spec, mine, ref)
    slow, slow_worst = correctness._first_mismatch_stepwise(spec, mine, ref)
    assert fast_worst == pytest.approx(slow_worst, rel=1e-9, abs=1e-300)
    if where is None:
        assert fast is None and slow is None
    else:
        assert fast is not None and slow is not None
        assert (fast.step, fast.what) == (slow.step, slow.what) == (where[0], items[where[1]])


def test_a_match_near_zero_reports_a_small_relative_error() -> None:
    """A reference of 1e-17 (a cancellation) and a float32 answer of 1e-9: it matches (within atol), and the
    relative error shown is measured against atol / rtol, not against 1e-17 (which would print 1e8)."""
    expected, got = torch.full((4,), 1e-17, dtype=torch.float64), torch.full((4,), 1e-9)
    one = compare(got, expected, TOL)
    assert one.ok and one.relative_error <= 2 * TOL.rtol
    found = compare_steps([got], [expected], TOL)
    assert found is not None and bool(found[0][0]) and float(found[1][0]) <= 2 * TOL.rtol
