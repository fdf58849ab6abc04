"""Plans: the schedule of calls one sandbox job makes, with its inputs and what each call must return.

A plan is built by a check in the parent, turned into a :class:`graders.sandbox.Job`, and kept to interpret the
outcome: ``calls[i]`` says which function op ``i`` called, on which case and step, and where its output was saved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from graders.cases import Case
from graders.exercise import ExerciseSpec
from graders.sandbox.child.tensorwire import pack
from graders.sandbox.jobs import Job

State = dict[str, torch.Tensor]


@dataclass(frozen=True)
class Call:
    function: str  # "module", "init_memory", "update", "read", "load_state" or "attend"
    case: Case | None = None
    step: int | None = None
    save: str | None = None
    grown: int | None = None  # a growing memory: the step whose sizes the returned memory has (default: step)

    @property
    def returns_state(self) -> bool:
        return self.function in ("init_memory", "update")

    def where(self) -> str:
        """Where this call happened, in words for a student (no inputs of hidden cases)."""
        if self.function == "module":
            return "while your file was being run (at import)"
        if self.case is None:
            return f"in {self.function}"
        if self.case.hidden:
            return f"in {self.function}, on a hidden test case"
        if self.function == "init_memory":
            return f"in init_memory({self.case.d})"
        if self.function == "attend":
            return f"in attend on {self.case.label} (T = {self.case.T}, d = {self.case.d})"
        return f"in {self.function} at step {self.step} of {self.case.label} (d = {self.case.d})"


@dataclass
class Trajectory:
    """What the student's code returned for one case: ``states[t]`` = Mem_t, ``reads[t]`` = read(Mem_t, q_t)."""

    case: Case
    states: list[State]
    reads: list[torch.Tensor]


@dataclass
class Plan:
    spec: ExerciseSpec
    ops: list[dict[str, Any]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    inputs: dict[str, torch.Tensor] = field(default_factory=dict)
    _body: tuple[int, bytes] | None = field(default=None, repr=False, compare=False)

    def job(self, source: str) -> Job:
        return Job(source, self.ops, self.inputs, dict(self.spec.params), self.spec.limits, body=self.body())

    def body(self) -> bytes:
        """The inputs packed for the wire, packed again only when inputs were added since (a plan that is kept,
        see :mod:`graders.prepared`, is packed once)."""
        if self._body is None or self._body[0] != len(self.inputs):
            self._body = (len(self.inputs), pack(self.inputs))
        return self._body[1]

    def module(self) -> None:
        self._add({"op": "module", "require": list(self.spec.functions)}, Call("module"))

    def init(self, stream: str, case: Case, save: str) -> None:
        self._add(
            {"op": "init", "stream": stream, "d": case.d, "save": save}, Call("init_memory", case, None, save)
        )

    def update(
        self,
        stream: str,
        case: Case,
        t: int,
        save: str | None,
        *,
        after: str | None = None,
        schema: bool = True,
        grown: int | None = None,
    ) -> None:
        """``update`` on step ``t``'s inputs. ``save=None``: the memory stays in the child; ``after``: the
        arguments as the call left them are saved too; ``schema=False``: the check that planned the call judges
        the saved memory's layout itself (the interface schema check skips it)."""
        k = self._input(f"{case.name}/k/{t}", case.K[t])
        v = self._input(f"{case.name}/v/{t}", case.V[t])
        op = {"op": "update", "stream": stream, "k": k, "v": v, "save": save}
        self._add(op | _after(after), Call("update", case, t, save if schema else None, grown))

    def read(self, stream: str, case: Case, t: int, save: str, *, after: str | None = None) -> None:
        q = self._input(f"{case.name}/q/{t}", case.Q[t])
        op = {"op": "read", "stream": stream, "q": q, "save": save}
        self._add(op | _after(after), Call("read", case, t, save))

    def load_state(self, stream: str, prefix: str, state: State) -> None:
        for key, tensor in state.items():
            self._input(f"{prefix}/{key}", tensor)
        self._add({"op": "load_state", "stream": stream, "prefix": prefix}, Call("load_state"))

    def attend(self, case: Case, save: str, *, count: str | None = None) -> None:
        """``attend(Q, K, V)`` on the whole of ``case`` (the sequence interface); ``count``: under the counter."""
        names = {x: self._input(f"{case.name}/{x}", getattr(case, x)) for x in ("Q", "K", "V")}
        op = {"op": "attend", **names, "save": save} | ({} if count is None else {"count": count})
        self._add(op, Call("attend", case, None, save))

    def steps(self, stream: str, case: Case, t: int, prefix: str, *, grown: int | None = None) -> None:
        """Step ``t`` of ``case``: update, then read where the exercise has a read-out. ``grown``: see Call."""
        self.update(stream, case, t, f"{prefix}/m/{t}", grown=grown)
        if self.spec.has_read:
            self.read(stream, case, t, f"{prefix}/r/{t}")

    def whole_case(self, case: Case, prefix: str, *, record_args: bool = False) -> None:
        """A fresh module, ``init_memory``, then every step of ``case``. ``record_args``: every call also saves
        its arguments as it left them (``<prefix>/a/<t>`` for update, ``<prefix>/ar/<t>`` for read), so that
        purity is judged on every call, not only on probes a submission could learn to recognise."""
        self.module()
        self.init(prefix, case, f"{prefix}/init")
        for t in range(case.T):
            if not record_args:
                self.steps(prefix, case, t, prefix)
                continue
            self.update(prefix, case, t, f"{prefix}/m/{t}", after=f"{prefix}/a/{t}")
            if self.spec.has_read:
                self.read(prefix, case, t, f"{prefix}/r/{t}", after=f"{prefix}/ar/{t}")

    @classmethod
    def merged(
        cls, spec: ExerciseSpec, parts: list[tuple[str, Plan]]
    ) -> tuple[Plan, list[tuple[str, range]]]:
        """One schedule running ``parts`` one after another (each starts with its own fresh module), and the op
        indices each part's name owns, to blame a failure on the right check. Save names must not collide."""
        whole = cls(spec)
        owners: list[tuple[str, range]] = []
        for name, part in parts:
            start = len(whole.ops)
            whole.ops += part.ops
            whole.calls += part.calls
            whole.inputs |= part.inputs
            owners.append((name, range(start, len(whole.ops))))
        return whole, owners

    def counting(self, name: str, marks: tuple[int, ...] = ()) -> Plan:
        """The same schedule with every ``update`` run under the child's operation counter, its per-call numbers
        saved under ``name/`` (see :mod:`graders.sandbox.child.schedule`); the calls and inputs are unchanged, so
        the check that built the plan reads the outcome exactly as before.

        With ``marks`` (numbers of updates), the supervisor also reads the runner's CPU clock before the first
        update and after the first N updates for each N in ``marks``: ``len(marks) + 1`` readings."""
        after = {n - 1 for n in marks}
        ops: list[dict[str, Any]] = []
        updates = 0
        for op in self.ops:
            if op["op"] == "update":
                op = op | {"count": name}
                if marks and updates == 0:
                    op["mark_before"] = True
                if updates in after:
                    op["mark_after"] = True
                updates += 1
            ops.append(op)
        return Plan(self.spec, ops, list(self.calls), dict(self.inputs))

    def state_shapes(self, d: int, step: int | None = None) -> dict[str, tuple[int, ...]]:
        """The declared shapes after ``step`` (``None``: the empty memory); growing sizes from the reference."""
        sizes = {"d": d} | {name: int(value) for name, value in self.spec.params.items()}
        if self.spec.growing:
            from graders.growth import sizes_at

            sizes |= sizes_at(self.spec, d, step)
        return {key: tuple(sizes[s] for s in shape) for key, shape in self.spec.state.items()}

    def _input(self, name: str, tensor: torch.Tensor) -> str:
        self.inputs[name] = tensor
        return name

    def _add(self, op: dict[str, Any], call: Call) -> None:
        self.ops.append(op)
        self.calls.append(call)


def _after(prefix: str | None) -> dict[str, str]:
    return {} if prefix is None else {"after": prefix}


def trajectory(outputs: dict[str, torch.Tensor], spec: ExerciseSpec, case: Case, prefix: str) -> Trajectory:
    """The student's states and read-outs for ``case`` saved under ``prefix`` (after the schema check passed)."""
    keys = list(spec.state)
    states = [{key: outputs[f"{prefix}/m/{t}/{key}"] for key in keys} for t in range(case.T)]
    reads = [outputs[f"{prefix}/r/{t}"] for t in range(case.T)] if spec.has_read else []
    return Trajectory(case, states, reads)
