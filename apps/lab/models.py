from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class ExerciseQuerySet(models.QuerySet["Exercise"]):
    def published(self) -> ExerciseQuerySet:
        """Exercises published themselves; a student sees one only inside a published concept too
        (``apps.lab.selectors.exercises_visible``)."""
        return self.filter(published=True)


class Exercise(models.Model):
    """A coding exercise. `spec` is graders.ExerciseSpec.to_dict(): the grader rebuilds the spec from it."""

    slug = models.SlugField(max_length=120, unique=True)
    title = models.CharField(max_length=200)
    concept = models.ForeignKey(
        # by name: lab sits below course and imports none of it (the layers in pyproject.toml)
        "course.Concept",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="exercises",
    )
    statement = models.TextField(help_text="Markdown with math.")
    starter = models.TextField()
    spec = models.JSONField(help_text="The grader's exercise spec, including solution and wrong variants.")
    position = models.PositiveIntegerField(default=0)
    published = models.BooleanField(default=False, help_text="Students see published items only.")
    deadline = models.DateTimeField(
        null=True, blank=True, help_text="Submissions after it are still graded, but marked late."
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = ExerciseQuerySet.as_manager()

    class Meta:
        ordering = ["position", "title"]

    def __str__(self) -> str:
        return self.title


class Submission(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="submissions")
    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="submissions")
    source = models.TextField()
    sha256 = models.CharField(max_length=64)
    late = models.BooleanField(default=False, help_text="Made after the exercise's deadline.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "exercise", "-created_at"])]

    def __str__(self) -> str:
        return f"submission {self.pk} by {self.user_id} for {self.exercise_id}"


class RegradeBatch(models.Model):
    """An instructor's regrade of every submission of an exercise (after its tests changed): one new run each."""

    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="regrades")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"regrade {self.pk} of {self.exercise_id}"


class GradingRun(models.Model):
    """One grading of a submission: queued → running → finished (running → queued when a fault releases it).

    Every transition is a conditional UPDATE in services.py; the report is the grader's JSON."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        FINISHED = "finished", "Graded"

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="runs")
    batch = models.ForeignKey(
        RegradeBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs",
        help_text="Set on the runs of an instructor's regrade; the submission's earlier runs stay beside them.",
    )  # fmt: skip
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    attempt = models.PositiveIntegerField(default=0, help_text="Incremented at every claim.")
    verdict = models.CharField(max_length=32, blank=True)
    score = models.FloatField(null=True, blank=True)
    report = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(
        default=timezone.now, help_text="When its grading task was last sent (or given back to the queue)."
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                name="run_finished_iff_verdict",
                condition=(Q(status="finished") & ~Q(verdict="") & Q(report__isnull=False))
                | (~Q(status="finished") & Q(verdict="")),
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.status}{' ' + self.verdict if self.verdict else ''})"

    @property
    def is_pending(self) -> bool:
        return self.status != self.Status.FINISHED

    @property
    def is_being_retried(self) -> bool:
        """Queued again after a claim: the grading was interrupted on the server (a fault of ours, never the
        student's) and waits for its retry."""
        return self.status == self.Status.QUEUED and self.attempt > 0


class ValidationRun(models.Model):
    """An instructor's validation of an exercise, run by a worker: the solution must pass and every known-wrong
    variant must fail the check it names. ``result`` holds each variant's outcome."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        FINISHED = "finished", "Done"

    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="validations")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    result = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"validation {self.pk} of {self.exercise_id} ({self.status})"

    @property
    def mutation_score(self) -> float | None:
        """Known-wrong variants caught by the check they name, over all of them."""
        variants = [v for v in (self.result or {}).get("variants", []) if v["name"].startswith("wrong/")]
        return sum(v["ok"] for v in variants) / len(variants) if variants else None


class PracticeRun(models.Model):
    """A run of a student's code on the exercise's visible examples only ("Run on examples"): feedback for the
    student, never a grade. It charges no attempt, is not in the gradebook and unlocks no hint; the grader runs
    it with ``examples_only`` (interface and correctness on the visible cases, never a hidden input)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"
        FAILED = "failed", "Could not run"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="practice_runs")
    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="practice_runs")
    source = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    report = models.JSONField(null=True, blank=True)
    error = models.TextField(
        blank=True, help_text="Why a run could not finish (a server fault, never the code's)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "exercise", "-created_at"])]

    def __str__(self) -> str:
        return f"practice run {self.pk} by {self.user_id} for {self.exercise_id}"

    @property
    def is_pending(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)


class Draft(models.Model):
    """The code a student is writing, saved as they type (one per student and exercise) and put back in the
    editor on their next visit when it is newer than their last submission. Never graded."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="drafts")
    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="drafts")
    source = models.TextField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "exercise"], name="one_draft_per_student")]

    def __str__(self) -> str:
        return f"draft of {self.user_id} for {self.exercise_id}"
