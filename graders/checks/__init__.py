"""Check families, one module each (ids fixed by GRADING.md §3): ``interface``, ``correctness`` (with ``shrink``,
its Hypothesis-shrunk counterexamples), ``recurrence`` (with ``substitution``, its part (c)), ``purity`` and
``state_size``."""
