from django.urls import path

from apps.course import views

app_name = "course"

urlpatterns = [
    path("", views.home, name="home"),
    path("map/", views.course_map, name="map"),
    path("concepts/<slug:slug>/", views.concept_detail, name="concept"),
    path("concepts/<slug:slug>/figures/<int:number>.svg", views.concept_figure, name="concept-figure"),
    path("authoring/concepts/new/", views.concept_edit, name="concept-new"),
    path("authoring/concepts/<slug:slug>/", views.concept_edit, name="concept-edit"),
    path("authoring/concepts/<slug:slug>/publish/", views.concept_publish, name="concept-publish"),
    path("authoring/questions/new/", views.question_edit, name="question-new"),
    path("authoring/questions/<slug:slug>/", views.question_edit, name="question-edit"),
    path("authoring/course-preview/", views.preview, name="preview"),
]
