from django.contrib import admin

from apps.lab.models import Exercise, GradingRun, Submission


@admin.register(Exercise)
class ExerciseAdmin(admin.ModelAdmin):
    list_display = ("title", "slug", "position", "deadline")
    list_editable = ("deadline",)


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "exercise", "created_at", "late")
    list_filter = ("exercise",)


@admin.register(GradingRun)
class GradingRunAdmin(admin.ModelAdmin):
    list_display = ("id", "submission", "status", "verdict", "score", "attempt", "created_at", "finished_at")
    list_filter = ("status", "verdict")
