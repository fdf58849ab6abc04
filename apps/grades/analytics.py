"""Item analytics for instructors (students' attempts only): how hard each question is, how well it separates students, per variant.

On each student's FIRST attempt at each question (later attempts have seen the explanation):
- difficulty p = the share of students who got it right;
- discrimination = the point-biserial correlation between getting this item right and the student's rest score
  (items right among the other questions they attempted): near 0 or negative flags an item to look at;
- for a randomized question, p per variant (a variant much harder than the others has awkward numbers).
A give-up ("Show the answer") is a wrong attempt there. Over all attempts, each question also shows how many
students gave up on a variant at least once, and the mean score (``apps.quiz.credit``: the credit of the first
correct attempt within the allowed ones; nothing after giving up or running out).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from apps.accounts.models import User
from apps.quiz.credit import question_score
from apps.quiz.models import Attempt, Question

MIN_STUDENTS = 5  # below this, a correlation says nothing


@dataclass
class ItemStats:
    question: Question
    n: int = 0
    right: int = 0
    discrimination: float | None = None
    variants: dict[int, tuple[int, int]] = field(default_factory=dict)  # variant -> (n, right)
    gave_up: int = 0  # students who gave up on a variant at least once
    scores: list[float] = field(default_factory=list)  # each student's score (0..1)

    @property
    def mean_score(self) -> float | None:
        return sum(self.scores) / len(self.scores) if self.scores else None

    @property
    def difficulty(self) -> float | None:
        return self.right / self.n if self.n else None

    @property
    def variant_rows(self) -> list[tuple[int, int, float]]:
        return [(v, n, r / n) for v, (n, r) in sorted(self.variants.items())]


def item_stats() -> list[ItemStats]:
    questions = list(Question.objects.select_related("concept").order_by("concept__position", "position"))
    first: dict[tuple[int, int], tuple[bool, int | None]] = {}  # (user, question) -> (correct, variant)
    history: dict[tuple[int, int], list[bool]] = defaultdict(list)
    gave_up: set[tuple[int, int]] = set()
    attempts = Attempt.objects.filter(user__role=User.Role.STUDENT).order_by("created_at", "pk")
    for user_id, question_id, correct, variant, gave in attempts.values_list(
        "user_id", "question_id", "correct", "variant", "gave_up"
    ):
        first.setdefault((user_id, question_id), (correct, variant))
        history[(user_id, question_id)].append(correct)
        if gave:
            gave_up.add((user_id, question_id))
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
    for (user_id, question_id), answers in history.items():
        item = stats.get(question_id)
        if item is not None:
            q = item.question
            item.scores.append(question_score(answers, max_attempts=q.max_attempts, credit=q.credit))
            item.gave_up += (user_id, question_id) in gave_up
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
