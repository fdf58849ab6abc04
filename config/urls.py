from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("apps.accounts.urls")),
    path("", include("apps.course.urls")),
    path("", include("apps.quiz.urls")),
    path("", include("apps.lab.urls")),
]
