from django.contrib import admin

from apps.course.models import Concept


@admin.register(Concept)
class ConceptAdmin(admin.ModelAdmin):
    list_display = ("title", "slug", "position")
    search_fields = ("title", "slug")
    filter_horizontal = ("learn_before", "related")
