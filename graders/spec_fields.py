"""Field-by-field validation of exercise data (YAML or the web app's stored dict) into an ExerciseSpec."""

from __future__ import annotations

import math
from typing import Any

from graders import checks as registry
from graders.errors import ExerciseError
from graders.sandbox.limits import LIMIT_MAXIMA, Limits
from graders.spec_values import FUNCTIONS, SLUG, WRONG_FILE, CheckSpec, Tolerance, WrongVariant, default_seed


def build(data: dict[str, Any], where: str) -> dict[str, Any]:
    """The fields of an ExerciseSpec from ``data``, each validated (the first problem raises ExerciseError)."""
    slug = _text(data, "slug", where)
    if not SLUG.match(slug):
        raise ExerciseError(f"{where}: slug must be lowercase letters, digits and '-', got {slug!r}")
    interface = data.get("interface", "recurrent")
    if interface not in FUNCTIONS:
        raise ExerciseError(f"{where}: interface must be one of {sorted(FUNCTIONS)}, got {interface!r}")
    params = _params(data.get("params") or {}, where)
    checks = _checks(data.get("checks"), interface, where)
    growing = _growing(data.get("growing") or [], set(params) | {"d"}, where)
    return dict(
        slug=slug,
        title=_text(data, "title", where),
        model=_text(data, "model", where),
        interface=interface,
        functions=_functions(data.get("functions"), interface, where),
        params=params,
        dims=_dims(data.get("dims"), where),
        state=_state(data.get("state"), set(params) | {"d"} | set(growing), interface, where),
        growing=growing,
        large_offset=_offset(data.get("large_offset", 1000.0), where),
        hints=_hints(data.get("hints") or [], where),
        tolerance=_tolerance(data.get("tolerance") or {}, where),
        checks=checks,
        limits=_limits(data.get("limits") or {}, where),
        wrong=_wrong(data.get("wrong") or [], {c.id for c in checks}, where),
        seed=_int(data.get("seed", default_seed(slug)), "seed", where),
        complexity_exponent=_exponent(data.get("complexity_exponent", 1.0), where),
        statement=_optional_text(data, "statement", where),
        starter=_optional_text(data, "starter", where),
        solution=_optional_text(data, "solution", where),
    )


def _text(data: dict[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ExerciseError(f"{where}: {key} must be a non-empty string")
    return value


def _optional_text(data: dict[str, Any], key: str, where: str) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise ExerciseError(f"{where}: {key} must be text")
    return value


def _int(value: Any, name: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ExerciseError(f"{where}: {name} must be an integer, got {value!r}")
    return value


def _number(value: Any, name: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ExerciseError(f"{where}: {name} must be a finite number, got {value!r}")
    return float(value)


def _functions(value: Any, interface: str, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ExerciseError(f"{where}: functions must be a list of names")
    required, optional = FUNCTIONS[interface]
    unknown = [name for name in value if name not in (*required, *optional)]
    missing = [name for name in required if name not in value]
    if unknown or missing or len(set(value)) != len(value):
        extra = f" plus optionally {list(optional)}" if optional else ""
        raise ExerciseError(
            f"{where}: the {interface} interface's functions are {list(required)}{extra}, got {value}"
        )
    return tuple(value)


def _growing(value: Any, fixed: set[str], where: str) -> tuple[str, ...]:
    """Size symbols that grow with the steps: names of their own, not d or a hyper-parameter."""
    if not isinstance(value, list) or not all(isinstance(v, str) and v.isidentifier() for v in value):
        raise ExerciseError(f"{where}: growing must be a list of size names, e.g. [t]")
    clash = sorted(set(value) & fixed)
    if clash:
        raise ExerciseError(f"{where}: growing sizes {clash} are already d or hyper-parameters")
    return tuple(value)


def _hints(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ExerciseError(f"{where}: hints must be a list of non-empty texts")
    return tuple(value)


def _offset(value: Any, where: str) -> float:
    offset = _number(value, "large_offset", where)
    if not 1 <= offset <= 1e4:
        raise ExerciseError(f"{where}: large_offset must be between 1 and 10000, got {offset}")
    return offset


def _exponent(value: Any, where: str) -> float:
    exponent = _number(value, "complexity_exponent", where)
    if not 0 < exponent <= 3:
        raise ExerciseError(f"{where}: complexity_exponent must be above 0 and at most 3, got {exponent}")
    return exponent


def _params(value: Any, where: str) -> dict[str, int | float]:
    """Hyper-parameters by name; an integer stays an int (a window size n_c is used in ``range``)."""
    if not isinstance(value, dict):
        raise ExerciseError(f"{where}: params must be a mapping of name to value")
    params: dict[str, int | float] = {}
    for name, v in value.items():
        number = _number(v, f"params.{name}", where)
        params[str(name)] = v if isinstance(v, int) else number
    return params


def _dims(value: Any, where: str) -> dict[str, tuple[int, int]]:
    if not isinstance(value, dict) or set(value) != {"d"}:
        raise ExerciseError(f"{where}: dims must give the range of d, e.g. {{d: [1, 8]}}")
    bounds = value["d"]
    if not isinstance(bounds, list | tuple) or len(bounds) != 2:
        raise ExerciseError(f"{where}: dims.d must be [low, high]")
    low, high = (_int(b, "dims.d", where) for b in bounds)
    if not 1 <= low <= high <= 64:
        raise ExerciseError(f"{where}: dims.d must satisfy 1 <= low <= high <= 64, got [{low}, {high}]")
    return {"d": (low, high)}


def _state(value: Any, symbols: set[str], interface: str, where: str) -> dict[str, tuple[str, ...]]:
    if interface == "sequence":  # attend keeps whatever it likes inside one call: there is no declared memory
        if value:
            raise ExerciseError(f"{where}: a sequence-interface exercise declares no state")
        return {}
    if not isinstance(value, dict) or not value:
        raise ExerciseError(f"{where}: state must map each memory tensor to its shape, e.g. {{M: [d, d]}}")
    layout: dict[str, tuple[str, ...]] = {}
    for name, shape in value.items():
        if not isinstance(name, str) or not isinstance(shape, list | tuple):
            raise ExerciseError(f"{where}: state.{name} must be a list of size names")
        unknown = [s for s in shape if s not in symbols]
        if unknown:
            raise ExerciseError(
                f"{where}: state.{name} uses unknown sizes {unknown} (known: {sorted(symbols)})"
            )
        layout[name] = tuple(shape)
    return layout


def _tolerance(value: Any, where: str) -> Tolerance:
    if not isinstance(value, dict) or set(value) - {"rtol", "atol"}:
        raise ExerciseError(f"{where}: tolerance must be a mapping with rtol and atol")
    rtol = _number(value.get("rtol", Tolerance.rtol), "tolerance.rtol", where)
    atol = _number(value.get("atol", Tolerance.atol), "tolerance.atol", where)
    if not (0 < rtol < 1 and 0 <= atol < 1):
        raise ExerciseError(f"{where}: tolerance needs 0 < rtol < 1 and 0 <= atol < 1")
    return Tolerance(rtol=rtol, atol=atol)


def _checks(value: Any, interface: str, where: str) -> tuple[CheckSpec, ...]:
    if not isinstance(value, list) or not value:
        raise ExerciseError(f"{where}: checks must be a list of {{id, points}}")
    allowed = registry.ids_for(interface)
    checks = []
    for item in value:
        if not isinstance(item, dict) or item.get("id") not in allowed:
            raise ExerciseError(
                f"{where}: each check of the {interface} interface needs an id among {list(allowed)}, "
                f"got {item!r}"
            )
        points = _number(item.get("points"), f"points of {item['id']}", where)
        if points <= 0:
            raise ExerciseError(f"{where}: points of {item['id']} must be positive")
        checks.append(CheckSpec(id=item["id"], points=points))
    ids = [c.id for c in checks]
    if len(set(ids)) != len(ids) or "interface" not in ids:
        raise ExerciseError(f"{where}: check ids must be unique and include 'interface', got {ids}")
    order = registry.ids()
    ordered = sorted(checks, key=lambda c: order.index(c.id))
    return tuple(ordered)


def _limits(value: Any, where: str) -> Limits:
    if not isinstance(value, dict) or set(value) - set(LIMIT_MAXIMA):
        raise ExerciseError(f"{where}: limits may set only {sorted(LIMIT_MAXIMA)}")
    default = Limits()
    wall_s = _number(value.get("wall_s", default.wall_s), "limits.wall_s", where)
    cpu_s = _int(value.get("cpu_s", default.cpu_s), "limits.cpu_s", where)
    memory_mb = _int(value.get("memory_mb", default.memory_mb), "limits.memory_mb", where)
    for name, got in (("wall_s", wall_s), ("cpu_s", cpu_s), ("memory_mb", memory_mb)):
        if not 0 < got <= LIMIT_MAXIMA[name]:
            raise ExerciseError(
                f"{where}: limits.{name} = {got} must be above 0 and at most {LIMIT_MAXIMA[name]}"
            )
    return Limits(wall_s=wall_s, cpu_s=cpu_s, memory_mb=memory_mb)


def _wrong(value: Any, check_ids: set[str], where: str) -> tuple[WrongVariant, ...]:
    if not isinstance(value, list):
        raise ExerciseError(f"{where}: wrong must be a list of {{file, fails, why}}")
    variants = []
    for item in value:
        if not isinstance(item, dict) or not WRONG_FILE.match(str(item.get("file"))):
            raise ExerciseError(
                f"{where}: each wrong variant needs a file name like 'transposed.py', got {item!r}"
            )
        if item.get("fails") not in check_ids:
            raise ExerciseError(
                f"{where}: wrong/{item['file']} must name a check it fails, one of {sorted(check_ids)}"
            )
        why, source = item.get("why", ""), item.get("source", "")
        if not isinstance(why, str) or not isinstance(source, str):
            raise ExerciseError(f"{where}: wrong/{item['file']}: why and source must be text")
        variants.append(WrongVariant(file=item["file"], fails=item["fails"], why=why, source=source))
    return tuple(variants)
