from __future__ import annotations

from django.contrib import admin

from clients.models import Client


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ["id", "phone", "operator_code", "tag", "timezone", "created_at"]
    list_filter = ["operator_code", "tag", "timezone"]
    search_fields = ["phone"]
