from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path

from accounts.admin_roles import RoleAdmin
from clients import importing, validation
from clients.admin_import import import_page
from stoplist import services
from stoplist.models import Source, StopListEntry


class StopListEntryForm(forms.ModelForm):
    phone = forms.CharField(
        max_length=32, help_text="As for a client: +7 (900) 123-45-67 or 79001234567."
    )

    class Meta:
        model = StopListEntry
        fields = ["phone", "reason"]

    def clean_phone(self) -> str:
        try:
            return validation.clean_phone(self.cleaned_data["phone"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc


@admin.register(StopListEntry)
class StopListEntryAdmin(RoleAdmin):
    masked_phone_fields = ("phone",)
    audit_type = "stoplist"
    form = StopListEntryForm
    list_display = ["phone", "reason", "source", "created_at", "created_by"]
    list_filter = ["source"]
    search_fields = ["phone", "reason"]
    readonly_fields = ["source", "created_at", "created_by"]
    change_list_template = "admin/stoplist/stoplistentry/change_list.html"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # An entry's number is what it is: change the reason, or remove it and list another.
        return [*self.readonly_fields, "phone"] if obj is not None else list(self.readonly_fields)

    def save_model(self, request: HttpRequest, obj: StopListEntry, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        entry, _ = services.stoplist_add(
            phone=obj.phone,
            reason=obj.reason,
            source=Source.ADMIN,
            created_by=request.user.get_username(),
        )
        obj.pk = entry.pk

    def delete_model(self, request: HttpRequest, obj: StopListEntry) -> None:
        services.stoplist_remove(entry=obj)

    def get_urls(self) -> list[URLPattern]:
        extra = [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="stoplist_stoplistentry_import",
            )
        ]
        return extra + super().get_urls()

    def import_view(self, request: HttpRequest) -> HttpResponse:
        return import_page(
            self,
            request,
            title="Import the stop list from CSV",
            columns_help="CSV with the header phone,reason (reason optional).",
            action="stoplist.import",
            run=lambda file: services.stoplist_import(
                rows=importing.csv_rows(file, columns=services.IMPORT_COLUMNS),
                created_by=request.user.get_username(),
            ),
        )
