"""Checks on the submitted bytes, in the trusted parent, before any sandbox: a failure means ``rejected``.

Nothing here executes the submission: the source is only decoded, parsed (``ast.parse``) and compiled to a code
object that is thrown away (``compile`` finds the errors the parser lets through, e.g. ``return`` outside a
function). A rejected attempt is not charged, so every message says exactly what to fix.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from graders.exercise import ExerciseSpec

MAX_SOURCE_BYTES = 64 * 1024
SUBMISSION_FILE = "submission.py"


@dataclass(frozen=True)
class Rejection:
    message: str


def precheck(spec: ExerciseSpec, source: bytes) -> str | Rejection:
    """The decoded source if it may be run, else why it is rejected."""
    if len(source) > MAX_SOURCE_BYTES:
        return Rejection(
            f"Your file is {len(source):,} bytes; the limit is {MAX_SOURCE_BYTES:,} bytes (64 KiB). "
            "Submit only your solution's source code."
        )
    try:
        text = source.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = source[: exc.start].count(b"\n") + 1
        return Rejection(
            f"Your file is not valid UTF-8: the byte 0x{source[exc.start]:02x} at offset {exc.start} "
            f"(line {line}) cannot be decoded. Save the file with the UTF-8 encoding."
        )
    text = text.removeprefix("\ufeff")
    if "\x00" in text:
        offset = source.index(b"\x00")
        return Rejection(
            f"Your file contains a NUL byte (at offset {offset}). Remove it and submit plain text."
        )
    if not text.strip():
        return Rejection("Your file is empty. Write your functions in it, starting from the starter code.")
    problem = _syntax_problem(text) or _missing_functions(spec, text)
    return Rejection(problem) if problem else text


def _syntax_problem(text: str) -> str | None:
    try:
        tree = ast.parse(text, filename=SUBMISSION_FILE)
        compile(tree, SUBMISSION_FILE, "exec", dont_inherit=True)
    except SyntaxError as exc:
        return _describe_syntax_error(exc, text)
    except (RecursionError, MemoryError, ValueError):
        return "Your file is nested too deeply to be read by Python. Simplify the deepest expression."
    return None


def _describe_syntax_error(exc: SyntaxError, text: str) -> str:
    kind = type(exc).__name__  # SyntaxError, IndentationError or TabError
    lineno = exc.lineno or 0
    lines = text.splitlines()
    message = f"{kind} on line {lineno}: {exc.msg}"
    if 1 <= lineno <= len(lines):
        line = lines[lineno - 1].rstrip()
        shown = line.lstrip()
        message += f"\n    {shown}"
        if exc.offset and exc.end_lineno in (None, lineno):
            caret = max(exc.offset - 1 - (len(line) - len(shown)), 0)
            message += "\n    " + " " * min(caret, len(shown)) + "^"
    return message


def _missing_functions(spec: ExerciseSpec, text: str) -> str | None:
    defined = _top_level_names(ast.parse(text).body)
    missing = [name for name in spec.functions if name not in defined]
    if not missing:
        return None
    names = " and ".join(f"`{name}`" for name in missing)
    signatures = "\n".join(f"    {spec.signature(name)}" for name in spec.functions)
    return f"Your file does not define {names}. This exercise needs these functions at the top level:\n{signatures}"


def _top_level_names(body: list[ast.stmt]) -> set[str]:
    """Names bound at module level: defs, classes, assignments, imports, also inside if/try/with/loops."""
    names: set[str] = set()
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        for attribute in ("body", "orelse", "finalbody"):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names |= _top_level_names(getattr(node, attribute, []))
        for handler in getattr(node, "handlers", []):
            names |= _top_level_names(handler.body)
    return names
