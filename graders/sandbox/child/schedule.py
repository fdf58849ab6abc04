"""The schedule interpreter: calls the student's functions in the order the grader asked, keeps the outputs.

Schedule ops (a JSON list, interpreted in order; the first failure stops the run):

* ``{"op": "module", "require": [names]}``: execute the submission as a fresh module ``submission``;
* ``{"op": "init", "stream": s, "d": d, "save": name}``: ``mem[s] = init_memory(d, **params)``;
* ``{"op": "update", "stream": s, "k": input, "v": input, "save": name}``: ``mem[s] = update(mem[s], k, v)``;
* ``{"op": "read", "stream": s, "q": input, "save": name}``: ``read(mem[s], q)``;
* ``{"op": "load_state", "stream": s, "prefix": p}``: ``mem[s] = {key: inputs[p/key]}``;
* ``{"op": "attend", "Q": input, "K": input, "V": input, "save": name}``: ``attend(Q, K, V)`` (the sequence
  interface), its output saved as ``name``.

``update`` also takes ``"mark_before"`` / ``"mark_after": true``: around the call (outside what is counted) the
runner lets the supervisor read its CPU clock, for the parent's ``step_cost`` (CPU time it measured itself).

``update`` and ``read`` take an optional ``"after": a``: the arguments as they are once the call returned (the
dict's plain tensors under ``a/mem/<key>``, then ``a/k``, ``a/v`` or ``a/q``) are saved too, for the parent's
purity check to compare byte for byte with what it sent. ``update`` and ``attend`` also take ``"count": c``: the
call runs under
a :class:`Counter` (every torch function it calls, the elements those calls produced, the process CPU time), and
once the whole schedule ran the per-call numbers come back as int64 tensors ``c/ops``, ``c/elements``,
``c/state`` (elements of the memory or output returned) and ``c/cpu_ns``, for the parent's ``step_cost`` and
``complexity`` checks. The student's
code runs in this process, so these numbers are advisory (and its process CPU clock, with RLIMIT_CPU armed, moves
only at scheduler ticks): ``step_cost`` takes its CPU time from the supervisor's readings at the marks instead.

A state saved under ``name`` is flattened to tensors ``name/<key>`` (``"save": null`` keeps it in the child only); a
read-out is saved as ``name`` itself. What the student returns is checked only as far as needed to send it back (a
dict of plain tensors); the grader does the real schema check. Failures are described as data (kind, op index,
exception type, message, traceback limited to the submission's frames), never raised past :meth:`Interpreter.run`.
"""

from __future__ import annotations

import sys
import time
import traceback
import types
from collections.abc import Callable
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

SUBMISSION_FILE = "submission.py"
MAX_ELEMENTS = 1 << 24  # per returned tensor; far above any declared layout
MAX_TEXT = 4000
SENDABLE = {torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.int64, torch.int32}
SENDABLE |= {torch.int16, torch.int8, torch.uint8, torch.bool}
_cpu_ns = time.process_time_ns  # bound at import, before any student code: rebinding time.* does not reach it
_numel = torch.Tensor.numel  # the base method, not a numel a tensor subclass defines (advisory all the same)


class BadOutput(Exception):
    """The student returned something that cannot be sent back as a dict of plain tensors."""


class LimitExceeded(BaseException):
    """Raised from a signal handler when the CPU (SIGXCPU) or wall-clock (SIGALRM) budget runs out.

    A ``BaseException`` so that a student's ``except Exception`` does not swallow it. If the student blocks or
    replaces the handlers, the hard limits (SIGKILL at ``cpu_s + 1``, the supervisor's deadline) still apply; this
    only lets an honest runner say *where* the time ran out.
    """

    def __init__(self, limit: str) -> None:
        super().__init__(limit)
        self.limit = limit


class MissingFunctions(Exception):
    """The module ran but does not define every function the exercise needs."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(", ".join(names))
        self.names = names


class Counter(TorchFunctionMode):
    """Counts the torch functions called while it is active and the elements of the tensors they return.

    Inside ``__torch_function__`` the mode is off (torch pops it), so ``func`` and ``numel`` are not counted again.
    """

    def __init__(self) -> None:
        super().__init__()
        self.ops = 0
        self.elements = 0

    def __torch_function__(
        self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None
    ) -> Any:
        out = func(*args, **(kwargs or {}))
        self.ops += 1
        self.elements += _elements(out)
        return out


def _elements(obj: object) -> int:
    if isinstance(obj, torch.Tensor):
        return int(_numel(obj))
    if isinstance(obj, tuple | list):
        return sum(_elements(item) for item in obj[:64])
    return 0


class Interpreter:
    """Runs schedule ops against the student's module; keeps the streams' memories and the saved outputs."""

    def __init__(
        self,
        code: types.CodeType,
        params: dict[str, Any],
        inputs: dict[str, torch.Tensor],
        mark: Callable[[], None] | None = None,
    ) -> None:
        self.code = code
        self.mark = mark or (lambda: None)  # the supervisor reads this process's CPU clock (see runner._mark)
        self.params = params
        self.inputs = inputs
        self.module: types.ModuleType | None = None
        self.streams: dict[str, dict[str, torch.Tensor]] = {}
        self.saved: dict[str, torch.Tensor] = {}
        self.costs: dict[
            str, list[tuple[int, int, int, int]]
        ] = {}  # count name -> (ops, elements, state, ns)

    def run(self, schedule: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        for index, op in enumerate(schedule):
            try:
                getattr(self, "op_" + op["op"])(op)
            except BaseException as exc:  # SystemExit and KeyboardInterrupt from student code included
                try:
                    return _describe_failure(index, exc), self.saved
                except BaseException as again:  # e.g. the time ran out inside the student's __str__
                    limit = again.limit if isinstance(again, LimitExceeded) else None
                    kind = "timeout" if limit else "exception"
                    return {"status": "error", "op": index, "kind": kind, "limit": limit}, self.saved
        for name, rows in self.costs.items():
            columns = torch.tensor(rows, dtype=torch.int64).reshape(len(rows), 4).T  # (4, steps)
            for column, values in zip(("ops", "elements", "state", "cpu_ns"), columns, strict=True):
                self.saved[f"{name}/{column}"] = values.contiguous()
        return {"status": "ok", "done": len(schedule)}, self.saved

    def _call(self, name: str, *args: Any) -> Any:
        assert self.module is not None, "schedule calls a function before loading the module"
        return getattr(self.module, name)(*args, **self.params)

    def op_module(self, op: dict[str, Any]) -> None:
        module = types.ModuleType("submission")
        module.__file__ = SUBMISSION_FILE
        sys.modules["submission"] = module
        exec(self.code, module.__dict__)
        missing = [name for name in op["require"] if not callable(getattr(module, name, None))]
        if missing:
            raise MissingFunctions(missing)
        self.module = module

    def op_init(self, op: dict[str, Any]) -> None:
        state = _as_state(self._call("init_memory", op["d"]), "init_memory")
        self._keep(op, state)

    def op_update(self, op: dict[str, Any]) -> None:
        if op.get("mark_before"):
            self.mark()
        k, v = self.inputs[op["k"]].clone(), self.inputs[op["v"]].clone()
        mem = dict(self.streams[op["stream"]])
        if "count" in op:
            state = self._counted_update(op["count"], mem, k, v)
        else:
            state = _as_state(self._call("update", mem, k, v), "update")
        self._keep(op, state)
        self._after(op, mem, {"k": k, "v": v})
        if op.get("mark_after"):
            self.mark()

    def _counted_update(
        self, name: str, mem: dict[str, torch.Tensor], k: torch.Tensor, v: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        returned, counter, spent = self._counted("update", mem, k, v)
        state = _as_state(returned, "update")
        size = sum(_elements(t) for t in state.values())
        self.costs.setdefault(name, []).append((counter.ops, counter.elements, size, spent))
        return state

    def _counted(self, function: str, *args: Any) -> tuple[Any, Counter, int]:
        """``function(*args)`` under a fresh :class:`Counter`: what it returned, the counter, the CPU ns spent."""
        counter = Counter()
        started = _cpu_ns()
        with counter:
            returned = self._call(function, *args)
        return returned, counter, _cpu_ns() - started

    def op_attend(self, op: dict[str, Any]) -> None:
        Q, K, V = (self.inputs[op[name]].clone() for name in ("Q", "K", "V"))
        if "count" in op:
            returned, counter, spent = self._counted("attend", Q, K, V)
            size = _elements(returned)
            self.costs.setdefault(op["count"], []).append((counter.ops, counter.elements, size, spent))
        else:
            returned = self._call("attend", Q, K, V)
        self.saved[op["save"]] = _sendable(returned, "attend returned a")

    def op_read(self, op: dict[str, Any]) -> None:
        mem, q = dict(self.streams[op["stream"]]), self.inputs[op["q"]].clone()
        out = self._call("read", mem, q)
        self.saved[op["save"]] = _sendable(out, "read returned a")
        self._after(op, mem, {"q": q})

    def _after(self, op: dict[str, Any], mem: dict[str, Any], args: dict[str, torch.Tensor]) -> None:
        """The arguments as the call left them; anything that is no longer a plain tensor is left out."""
        if "after" not in op:
            return
        named = {f"mem/{key}": value for key, value in dict.items(mem) if type(key) is str and "/" not in key}
        for name, value in (named | args).items():
            try:
                self.saved[f"{op['after']}/{name}"] = _sendable(value, "")
            except BadOutput:
                continue  # the parent sees the entry missing, and says the argument was changed

    def op_load_state(self, op: dict[str, Any]) -> None:
        prefix = op["prefix"] + "/"
        state = {name[len(prefix) :]: t.clone() for name, t in self.inputs.items() if name.startswith(prefix)}
        self.streams[op["stream"]] = state

    def _keep(self, op: dict[str, Any], state: dict[str, torch.Tensor]) -> None:
        self.streams[op["stream"]] = state
        if op["save"] is None:  # a step whose memory the grader does not need back (long state_size runs)
            return
        for key, tensor in state.items():
            self.saved[f"{op['save']}/{key}"] = _sendable(tensor, f'{op["op"]} returned, under "{key}", a')


def _as_state(obj: object, function: str) -> dict[str, torch.Tensor]:
    if not isinstance(obj, dict):
        raise BadOutput(f"{function} returned a value of type {type(obj).__name__}, not a dict of tensors")
    state: dict[str, torch.Tensor] = {}
    for key, value in dict.items(obj):
        if type(key) is not str or "/" in key or not 0 < len(key) <= 64:
            raise BadOutput(
                f"{function} returned a dict with the key {_short(repr(key))}; keys must be short names"
            )
        state[key] = value
    return state


def _sendable(obj: object, what: str) -> torch.Tensor:
    if type(obj) is not torch.Tensor:  # exactly a tensor: no subclasses that could lie about their values
        raise BadOutput(f"{what} value of type {type(obj).__name__}, not a plain torch.Tensor")
    if obj.layout != torch.strided or obj.dtype not in SENDABLE:
        raise BadOutput(
            f"{what} tensor of dtype {obj.dtype} and layout {obj.layout}, which cannot be checked"
        )
    if obj.numel() > MAX_ELEMENTS:
        raise BadOutput(f"{what} tensor of {obj.numel()} elements, far more than the memory should hold")
    try:
        return obj.detach().to("cpu").contiguous().clone()
    except Exception as exc:
        raise BadOutput(f"{what} tensor that cannot be copied ({_short(str(exc))})") from None


def _describe_failure(index: int, exc: BaseException) -> dict[str, Any]:
    header: dict[str, Any] = {"status": "error", "op": index}
    if isinstance(exc, BadOutput):
        return header | {"kind": "bad_output", "message": _short(str(exc))}
    if isinstance(exc, MissingFunctions):
        return header | {"kind": "missing", "names": exc.names}
    if isinstance(exc, LimitExceeded):
        return header | {"kind": "timeout", "limit": exc.limit}
    kind = "memory" if _is_out_of_memory(exc) else "exception"
    return header | {
        "kind": kind,
        "type": type(exc).__name__,
        "message": _safe_str(exc),
        "traceback": _student_tb(exc),
    }


def _is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    return isinstance(exc, RuntimeError) and "can't allocate memory" in _safe_str(exc)


def _student_tb(exc: BaseException) -> str:
    """The traceback limited to the submission's own frames, shown as ``submission.py``."""
    try:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == SUBMISSION_FILE]
        lines = "".join(traceback.format_list(frames))
        return _short(
            "Traceback (most recent call last):\n" + lines + f"{type(exc).__name__}: {_safe_str(exc)}"
        )
    except Exception:
        return ""


def _safe_str(exc: BaseException) -> str:
    try:
        return _short(str(exc))
    except Exception:
        return "(the exception's message could not be shown)"


def _short(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + " …"
