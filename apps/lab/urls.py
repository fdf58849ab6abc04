from django.urls import path

from apps.lab import views

app_name = "lab"

urlpatterns = [
    path("exercises/new/", views.exercise_edit, name="exercise-new"),
    path("exercises/<slug:slug>/edit/", views.exercise_edit, name="exercise-edit"),
    path("exercises/<slug:slug>/publish/", views.exercise_publish, name="exercise-publish"),
    path("authoring/preview/", views.markdown_preview, name="preview"),
    path("exercises/<slug:slug>/", views.exercise_detail, name="exercise"),
    path("exercises/<slug:slug>/submit/", views.exercise_submit, name="submit"),
    path("exercises/<slug:slug>/practice/", views.exercise_practice, name="practice-create"),
    path("exercises/<slug:slug>/draft/", views.exercise_draft, name="draft"),
    path("practice/<int:practice_id>/", views.practice_detail, name="practice"),
    path("exercises/<slug:slug>/regrade/", views.exercise_regrade, name="regrade"),
    path("exercises/<slug:slug>/validate/", views.exercise_validate, name="validate"),
    path("exercises/<slug:slug>/submissions/", views.exercise_submissions, name="submissions"),
    path("runs/<int:run_id>/", views.run_detail, name="run"),
    path("submissions/<int:submission_id>/diff/", views.submission_diff, name="submission-diff"),
    path("runs/<int:run_id>/status/", views.run_status, name="run-status"),
    path("runs/<int:run_id>/plots/<slug:check_id>.svg", views.run_plot, name="run-plot"),
]
