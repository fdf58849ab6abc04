"""Check families, one module each (ids fixed by GRADING.md §3): ``interface``, ``correctness`` (with ``shrink``,
its Hypothesis-shrunk counterexamples), ``recurrence`` (with ``substitution``, its part (c)), ``purity``,
``state_size`` and ``step_cost`` (work per step, from the state_size run's counted updates)."""
