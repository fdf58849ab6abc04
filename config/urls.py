from django.contrib import admin
from django.urls import include, path

from config.health import health, healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("health", health, name="health"),
    path("admin/", admin.site.urls),
    path("accounts/", include("apps.accounts.urls")),
    path("", include("apps.course.urls")),
    path("", include("apps.quiz.urls")),
    path("", include("apps.lab.urls")),
    path("", include("apps.grades.urls")),
]
