from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView

from config.health import health, healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("health", health, name="health"),
    # browsers ask for /favicon.ico whatever the page links; the icon is the static SVG (resolved per request,
    # so a hashed static name works)
    path("favicon.ico", RedirectView.as_view(url=lazy(static, str)("favicon.svg"), permanent=True)),
    path("admin/", admin.site.urls),
    path("accounts/", include("apps.accounts.urls")),
    path("", include("apps.course.urls")),
    path("", include("apps.quiz.urls")),
    path("", include("apps.lab.urls")),
    path("", include("apps.grades.urls")),
]
