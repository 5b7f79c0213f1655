from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path

from accounts.admin_roles import RoleAdmin
from clients import importing, services
from clients.admin_import import import_page
from clients.models import Client


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
        return import_page(
            self,
            request,
            title="Import clients from CSV",
            columns_help="CSV with the header phone,operator_code,tag,timezone and "
            "optionally consent_at,consent_source.",
            action="client.import",
            run=lambda file: importing.clients_import(rows=importing.csv_rows(file)),
        )
