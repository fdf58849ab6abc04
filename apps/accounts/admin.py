from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from apps.accounts.models import User


@admin.register(User)
class MemlabUserAdmin(UserAdmin):
    fieldsets = (*UserAdmin.fieldsets, ("memlab", {"fields": ("role",)}))
    list_display = ("username", "email", "role", "is_staff")
