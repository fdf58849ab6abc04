from django.urls import path

from apps.grades import views

app_name = "grades"

urlpatterns = [
    path("gradebook/", views.gradebook_page, name="gradebook"),
    path("gradebook.csv", views.gradebook_export, name="export"),
    path("analytics/", views.item_analytics, name="analytics"),
]
