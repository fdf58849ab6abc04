from django.urls import path

from apps.course import views

app_name = "course"

urlpatterns = [
    path("", views.home, name="home"),
    path("concepts/<slug:slug>/", views.concept_detail, name="concept"),
]
