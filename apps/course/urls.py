from django.urls import path

from apps.course import views

app_name = "course"

urlpatterns = [
    path("", views.home, name="home"),
    path("map/", views.course_map, name="map"),
    path("concepts/<slug:slug>/", views.concept_detail, name="concept"),
]
