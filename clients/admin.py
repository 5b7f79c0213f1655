from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path

from accounts.admin_roles import RoleAdmin
from accounts.audit import audit_record
from clients import importing, services
from clients.models import Client
from core.exceptions import InvalidInput


class ImportForm(forms.Form):
    file = forms.FileField(
        help_text="CSV with the header phone,operator_code,tag,timezone and optionally "
        "consent_at,consent_source."
    )


@admin.register(Client)
class ClientAdmin(RoleAdmin):
    masked_phone_fields = ("phone",)
    audit_type = "client"
    list_display = ["id", "phone", "operator_code", "tag", "timezone", "consent_at", "created_at"]
    list_filter = ["operator_code", "tag", "timezone", ("consent_at", admin.EmptyFieldListFilter)]
    search_fields = ["phone"]
    change_list_template = "admin/clients/client/change_list.html"

    def delete_model(self, request: HttpRequest, obj: Client) -> None:
        services.client_delete(client=obj)

    def get_urls(self) -> list[URLPattern]:
        extra = [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="clients_client_import",
            )
        ]
        return extra + super().get_urls()

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ImportForm(request.POST or None, request.FILES or None)
        result = None
        error = None
        if request.method == "POST" and form.is_valid():
            try:
                result = importing.clients_import(
                    rows=importing.csv_rows(form.cleaned_data["file"].file)
                )
                audit_record(
                    actor=request.user,
                    action="client.import",
                    details={"via": "admin", "created": result.created, "updated": result.updated},
                )
            except InvalidInput as exc:
                error = exc.errors
        context = {
            **self.admin_site.each_context(request),
            "title": "Import clients from CSV",
            "form": form,
            "result": result,
            "error": error,
            "opts": self.model._meta,
        }
        return render(request, "admin/clients/client/import.html", context)
