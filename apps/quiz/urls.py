from django.urls import path

from apps.quiz import views

app_name = "quiz"

urlpatterns = [path("questions/<slug:slug>/answer/", views.answer, name="answer")]
