"""Loading rows from the course files: one helper that every app's loader uses (no app of its own: a module
beneath them all, so that course, lab and quiz need not import each other for it)."""

from __future__ import annotations

from collections import Counter
from typing import Any, TypeVar

from django.db import models

M = TypeVar("M", bound=models.Model)


def upsert_by_slug(model: type[M], slug: str, values: dict[str, Any], counts: Counter[str]) -> M:
    """Create or update the row with ``slug``, saving only the fields that changed (an unchanged sync writes
    nothing); counts it as created, updated or unchanged."""
    row = model._default_manager.filter(slug=slug).first()
    if row is None:
        counts["created"] += 1
        return model._default_manager.create(slug=slug, **values)
    changed = {k: v for k, v in values.items() if getattr(row, k) != v}
    if changed:
        for key, value in changed.items():
            setattr(row, key, value)
        row.save(update_fields=list(changed))
        counts["updated"] += 1
    else:
        counts["unchanged"] += 1
    return row
