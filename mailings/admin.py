from __future__ import annotations

from django.contrib import admin

from mailings.models import Mailing, Message


@admin.register(Mailing)
class MailingAdmin(admin.ModelAdmin):
    list_display = ["id", "status", "start_at", "end_at", "filter_operator_code", "filter_tag"]
    list_filter = ["status"]
    readonly_fields = ["status", "created_at", "started_at", "finished_at"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "mailing", "client", "status", "attempts", "sent_at"]
    list_filter = ["status"]
    raw_id_fields = ["mailing", "client"]
    readonly_fields = [f.name for f in Message._meta.fields]
