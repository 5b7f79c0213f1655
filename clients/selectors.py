"""Reads of the client directory."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from clients.models import Client


class ClientFilter(django_filters.FilterSet):
    tag = django_filters.CharFilter(field_name="tag", help_text="Exact tag.")
    operator_code = django_filters.CharFilter(
        field_name="operator_code", help_text="Exact operator code."
    )

    class Meta:
        model = Client
        fields = ["tag", "operator_code"]


def client_list() -> QuerySet[Client]:
    return Client.objects.order_by("id")
