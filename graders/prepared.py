"""What a grading needs from the exercise alone, prepared once per exercise version and shared by its gradings.

The cases, the plans of the visible and hidden jobs and of the long run, their packed inputs and the oracle's
trajectories depend on the exercise (its seed, sizes, parameters, checks) and never on the submission: a worker
that grades a burst of one exercise built them for every submission (about a third of the parent's CPU time per
grading). They are built on first use and kept, keyed by the exercise's whole content, so an instructor's edit (a
new version of the spec) gets fresh ones. Nothing here is mutated by a grading: the checks read cases, plans and
trajectories and build new tensors.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import cached_property

import reference
from graders.cases import Case, hidden, make_cases, visible
from graders.checks import correctness, state_size, step_cost
from graders.errors import ExerciseError
from graders.exercise import ExerciseSpec
from graders.plan import Plan, Trajectory

KEEP = 16  # exercise versions kept per process (a course has a few dozen exercises; a burst hits one or two)


class Prepared:
    """The submission-independent half of one grading of ``spec`` (see the module's docstring)."""

    def __init__(self, spec: ExerciseSpec) -> None:
        self.spec = spec
        try:
            self.model = reference.get_model(spec.model)
        except KeyError as exc:
            raise ExerciseError(f"exercise {spec.slug!r}: {exc.args[0]}") from None

    @cached_property
    def cases(self) -> list[Case]:
        return make_cases(self.spec)

    @cached_property
    def shown(self) -> list[Case]:
        return visible(self.cases)

    @cached_property
    def secret(self) -> list[Case]:
        return hidden(self.cases)

    @property
    def record_args(self) -> bool:
        """Every call's arguments are saved when purity is listed (it compares them with what was passed)."""
        return any(c.id == "purity" for c in self.spec.checks)

    @cached_property
    def shown_plan(self) -> Plan:
        return correctness.plan_for(self.spec, self.shown, record_args=self.record_args)

    @cached_property
    def secret_plan(self) -> Plan:
        return correctness.plan_for(self.spec, self.secret, record_args=self.record_args)

    @cached_property
    def probe_end(self) -> int:
        """The first op of the second visible case: the import and the first (smallest) case probe the
        interface, later cases test correctness."""
        modules = [i for i, call in enumerate(self.shown_plan.calls) if call.function == "module"]
        return modules[1] if len(modules) > 1 else len(self.shown_plan.calls)

    @cached_property
    def oracle(self) -> list[Trajectory]:
        """The reference's trajectories of the visible, then the hidden cases."""
        return [correctness.reference_trajectory(self.model, self.spec, c) for c in self.shown + self.secret]

    @cached_property
    def sizes(self) -> state_size.SizePlan:
        return state_size.plan_for(self.spec)

    @cached_property
    def cost(self) -> step_cost.CostPlan | None:
        """The long run counted for step_cost, when step_cost is listed."""
        if not any(c.id == step_cost.CHECK_ID for c in self.spec.checks):
            return None
        return step_cost.plan_for(self.sizes.plan, self.sizes.case.T, self.sizes.case.d)


_kept: OrderedDict[str, Prepared] = OrderedDict()


def prepared(spec: ExerciseSpec) -> Prepared:
    """The prepared half of ``spec``'s gradings, built on first use and kept for the ``KEEP`` latest versions."""
    key = repr(spec)  # the whole content (a frozen dataclass of plain values): an edited spec is another key
    found = _kept.get(key)
    if found is None:
        found = _kept[key] = Prepared(spec)
        while len(_kept) > KEEP:
            _kept.popitem(last=False)
    else:
        _kept.move_to_end(key)
    return found
