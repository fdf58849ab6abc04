from django.urls import path

from apps.grades import views

app_name = "grades"

urlpatterns = [
    path("gradebook/", views.gradebook_page, name="gradebook"),
    path("gradebook.csv", views.gradebook_export, name="export"),
    path("gradebook/students/<int:user_id>/", views.student_page, name="student"),
    path("analytics/", views.item_analytics, name="analytics"),
    path("analytics/exercises/<slug:slug>/", views.exercise_analytics, name="exercise"),
    path("analytics/exercises/<slug:slug>/scores.svg", views.exercise_scores_svg, name="exercise-scores"),
]
