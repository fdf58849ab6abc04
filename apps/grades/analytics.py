"""Item analytics for instructors: how hard each question is, how well it separates students, per variant.

On each student's FIRST attempt at each question (later attempts have seen the explanation):
- difficulty p = the share of students who got it right;
- discrimination = the point-biserial correlation between getting this item right and the student's rest score
  (items right among the other questions they attempted): near 0 or negative flags an item to look at;
- for a randomized question, p per variant (a variant much harder than the others has awkward numbers).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from apps.quiz.models import Attempt, Question

MIN_STUDENTS = 5  # below this, a correlation says nothing


@dataclass
class ItemStats:
    question: Question
    n: int = 0
    right: int = 0
    discrimination: float | None = None
    variants: dict[int, tuple[int, int]] = field(default_factory=dict)  # variant -> (n, right)

    @property
    def difficulty(self) -> float | None:
        return self.right / self.n if self.n else None

    @property
    def variant_rows(self) -> list[tuple[int, int, float]]:
        return [(v, n, r / n) for v, (n, r) in sorted(self.variants.items())]


def item_stats() -> list[ItemStats]:
    questions = list(Question.objects.select_related("concept").order_by("concept__position", "position"))
    first: dict[tuple[int, int], tuple[bool, int | None]] = {}  # (user, question) -> (correct, variant)
    for user_id, question_id, correct, variant in Attempt.objects.order_by("created_at").values_list(
        "user_id", "question_id", "correct", "variant"
    ):
        first.setdefault((user_id, question_id), (correct, variant))
    totals: dict[int, int] = defaultdict(int)
    for (user_id, _), (correct, _) in first.items():
        totals[user_id] += int(correct)
    stats = {q.pk: ItemStats(q) for q in questions}
    scores: dict[int, list[tuple[int, int]]] = defaultdict(list)  # question -> [(right 0/1, rest score)]
    for (user_id, question_id), (correct, variant) in first.items():
        item = stats.get(question_id)
        if item is None:
            continue
        item.n += 1
        item.right += int(correct)
        if variant is not None:
            n, r = item.variants.get(variant, (0, 0))
            item.variants[variant] = (n + 1, r + int(correct))
        scores[question_id].append((int(correct), totals[user_id] - int(correct)))
    for question_id, pairs in scores.items():
        stats[question_id].discrimination = point_biserial(pairs) if len(pairs) >= MIN_STUDENTS else None
    return list(stats.values())


def point_biserial(pairs: list[tuple[int, int]]) -> float | None:
    """Pearson's r between a 0/1 item score and a rest score; None when either does not vary."""
    n = len(pairs)
    xs, ys = [float(x) for x, _ in pairs], [float(y) for _, y in pairs]
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / math.sqrt(sxx * syy)
