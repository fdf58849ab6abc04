from django.contrib import admin

from apps.quiz.models import Attempt, Question

admin.site.register(Question)
admin.site.register(Attempt)
