"""Check families, one module each: ``interface``, ``correctness``, ``recurrence`` (ids fixed by GRADING.md §3)."""
