"""Exercise specs: the folder in the course files, and the same data as a plain dict for the web app's database.

A folder ``content/exercises/<slug>/`` holds ``exercise.yaml``, ``statement.md``, ``starter.py``, ``solution.py``
and ``wrong/*.py``. :func:`load_exercise` reads it into an :class:`ExerciseSpec`; ``spec.to_dict()`` holds the YAML
data plus every text file, and ``ExerciseSpec.from_dict`` rebuilds an equal spec from it. Both paths go through the
same validation, so a spec edited in the instructor UI obeys the same rules (limits capped, known checks only).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from graders import spec_fields
from graders.errors import ExerciseError, ExerciseNotFound
from graders.sandbox.limits import LIMIT_MAXIMA, Limits
from graders.spec_values import (
    SIGNATURES,
    SLUG,
    WRONG_FILE,
    CheckSpec,
    Tolerance,
    WrongVariant,
    default_seed,
)

__all__ = [
    "LIMIT_MAXIMA",
    "SLUG",
    "WRONG_FILE",
    "CheckSpec",
    "ExerciseSpec",
    "Limits",
    "Tolerance",
    "WrongVariant",
    "content_root",
    "default_seed",
    "list_exercises",
    "load_exercise",
]


@dataclass(frozen=True)
class ExerciseSpec:
    slug: str
    title: str
    model: str
    functions: tuple[str, ...]
    state: dict[str, tuple[str, ...]]
    dims: dict[str, tuple[int, int]]
    checks: tuple[CheckSpec, ...]
    interface: str = "recurrent"
    params: dict[str, int | float] = field(default_factory=dict)
    tolerance: Tolerance = Tolerance()
    limits: Limits = Limits()
    wrong: tuple[WrongVariant, ...] = ()
    seed: int = 0
    # sequence interface: the declared growth of attend's total cost with T (1: O(T·n_c); 2 would be O(T²))
    complexity_exponent: float = 1.0
    # a growing memory: the size symbols of ``state`` that grow with the steps (``t`` rows of a full KV cache)
    growing: tuple[str, ...] = ()
    # the offset of the visible case with large inputs: 1000 tests float32 care; a memory that multiplies by
    # ‖k‖² each step (a gradient step) would only overflow there, so it may ask for a smaller one
    large_offset: float = 1000.0
    # hints, Markdown, unlocked one by one after failed attempts (the web app decides when)
    hints: tuple[str, ...] = ()
    statement: str = ""
    starter: str = ""
    solution: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExerciseSpec:
        """Validate ``data`` (the YAML mapping, optionally with the text files) into a spec."""
        return _parse(data)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data, text files included; ``from_dict`` of it gives an equal spec."""
        return {
            "slug": self.slug,
            "title": self.title,
            "model": self.model,
            "interface": self.interface,
            "functions": list(self.functions),
            "params": dict(self.params),
            "dims": {name: list(bounds) for name, bounds in self.dims.items()},
            "state": {name: list(shape) for name, shape in self.state.items()},
            "tolerance": {"rtol": self.tolerance.rtol, "atol": self.tolerance.atol},
            "checks": [{"id": c.id, "points": c.points} for c in self.checks],
            "limits": {
                "wall_s": self.limits.wall_s,
                "cpu_s": self.limits.cpu_s,
                "memory_mb": self.limits.memory_mb,
            },
            "wrong": [
                {"file": w.file, "fails": w.fails, "why": w.why, "source": w.source} for w in self.wrong
            ],
            "seed": self.seed,
            "complexity_exponent": self.complexity_exponent,
            "growing": list(self.growing),
            "large_offset": self.large_offset,
            "hints": list(self.hints),
            "statement": self.statement,
            "starter": self.starter,
            "solution": self.solution,
        }

    @property
    def has_read(self) -> bool:
        return "read" in self.functions

    @property
    def is_sequence(self) -> bool:
        """``attend(Q, K, V)`` on whole sequences instead of a memory stepped pair by pair."""
        return self.interface == "sequence"

    def signature(self, function: str) -> str:
        """The expected signature of ``function``, as GRADING.md §1 writes it for this exercise."""
        extra = "".join(f", {name}" for name in self.params) if self.params else ""
        return SIGNATURES[function].format(p=extra)

    def check_points(self, check_id: str) -> float:
        return next((c.points for c in self.checks if c.id == check_id), 0.0)


def content_root(content_dir: str | os.PathLike[str] | None = None) -> Path:
    """``content_dir``, else ``$MEMLAB_CONTENT_DIR``, else ``content/`` beside the ``graders`` package."""
    if content_dir is not None:
        return Path(content_dir)
    env = os.environ.get("MEMLAB_CONTENT_DIR")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "content"


def load_exercise(
    slug_or_path: str | os.PathLike[str], content_dir: str | os.PathLike[str] | None = None
) -> ExerciseSpec:
    """The exercise in folder ``slug_or_path`` if that is a folder, else the one with that slug in the content."""
    folder = Path(slug_or_path)
    if not (folder / "exercise.yaml").is_file():
        slug = str(slug_or_path)
        exercises = content_root(content_dir) / "exercises"
        if not SLUG.match(slug) or not (exercises / slug / "exercise.yaml").is_file():
            known = ", ".join(s.slug for s in list_exercises(content_dir)) or "none"
            raise ExerciseNotFound(f"no exercise {slug!r} in {exercises} (known: {known})")
        folder = exercises / slug
    return _load_folder(folder)


def list_exercises(content_dir: str | os.PathLike[str] | None = None) -> list[ExerciseSpec]:
    """Every exercise folder under ``<content>/exercises``, sorted by slug."""
    exercises = content_root(content_dir) / "exercises"
    if not exercises.is_dir():
        return []
    folders = sorted(p for p in exercises.iterdir() if (p / "exercise.yaml").is_file())
    return [_load_folder(folder) for folder in folders]


# Keys of exercise.yaml that the course reads and the grader ignores: ``published`` (whether students see it).
COURSE_KEYS = ("published",)


def _load_folder(folder: Path) -> ExerciseSpec:
    try:
        data = yaml.safe_load((folder / "exercise.yaml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ExerciseError(f"{folder / 'exercise.yaml'}: cannot be read: {exc}") from None
    if not isinstance(data, dict):
        raise ExerciseError(f"{folder / 'exercise.yaml'}: must be a mapping")
    data = {key: value for key, value in data.items() if key not in COURSE_KEYS}
    for key, name in (("statement", "statement.md"), ("starter", "starter.py"), ("solution", "solution.py")):
        data[key] = _read_text(folder / name)
    wrong = data.get("wrong") or []
    if isinstance(wrong, list):
        data["wrong"] = [
            dict(item, source=_read_text(folder / "wrong" / str(item.get("file"))))
            if isinstance(item, dict) and WRONG_FILE.match(str(item.get("file")))
            else item
            for item in wrong
        ]
    spec = _parse(data)
    if spec.slug != folder.name:
        raise ExerciseError(f"{folder}: slug {spec.slug!r} must equal the folder name {folder.name!r}")
    return spec


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ExerciseError(f"{path}: cannot be read: {exc}") from None


def _parse(data: dict[str, Any]) -> ExerciseSpec:
    known = {f.name for f in fields(ExerciseSpec)}
    unknown = sorted(set(data) - known)
    where = f"exercise {data.get('slug', '?')!r}"
    if unknown:
        raise ExerciseError(f"{where}: unknown fields {unknown}")
    return ExerciseSpec(**spec_fields.build(data, where))
