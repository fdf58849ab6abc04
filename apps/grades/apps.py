from django.apps import AppConfig


class GradesConfig(AppConfig):
    name = "apps.grades"
    label = "grades"
    verbose_name = "Gradebook"
