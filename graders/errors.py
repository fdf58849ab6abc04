"""Exceptions of the grading engine. A student's mistake is never one of these: it is a verdict in a report."""

from __future__ import annotations


class GraderError(Exception):
    """An infrastructure fault (the sandbox could not start, the zygote broke): retry the job, blame nobody."""


class ExerciseError(ValueError):
    """An exercise spec is invalid; the message names the field and what is wrong with it."""


class ExerciseNotFound(ExerciseError, LookupError):
    """No exercise with that slug (or no exercise folder at that path)."""
