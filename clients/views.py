from __future__ import annotations

from typing import Any, cast

from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from accounts.audit import audit_record
from clients import counters, importing, selectors, services
from clients.models import Client
from clients.serializers import (
    ClientSerializer,
    ImportJsonSerializer,
    ImportRequestSerializer,
    ImportResultSerializer,
)
from core.idempotency import idempotent
from core.openapi import (
    ERROR_RESPONSES,
    IDEMPOTENCY_KEY,
    IDEMPOTENCY_RESPONSES,
    NOT_FOUND,
    VALIDATION_ERROR,
)
from core.pagination import KnownCount, paginate
from core.parsers import ImportJSONParser

IMPORT_EXAMPLE = OpenApiExample(
    "Two imported, one rejected",
    value={
        "created": 1,
        "updated": 1,
        "rejected_count": 1,
        "rejected": [
            {
                "line": 4,
                "errors": {"phone": ["Enter 11 digits (0-9) starting with 7, e.g. 79001234567."]},
            }
        ],
    },
    response_only=True,
)


@extend_schema_view(
    list=extend_schema(
        summary="List clients", responses={200: ClientSerializer, **ERROR_RESPONSES}
    ),
    create=extend_schema(
        summary="Create a client",
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: ClientSerializer,
            400: VALIDATION_ERROR,
            **ERROR_RESPONSES,
            **IDEMPOTENCY_RESPONSES,
        },
    ),
    retrieve=extend_schema(
        summary="Read a client",
        responses={200: ClientSerializer, 404: NOT_FOUND, **ERROR_RESPONSES},
    ),
    update=extend_schema(
        summary="Replace a client",
        responses={200: ClientSerializer, 400: VALIDATION_ERROR, 404: NOT_FOUND, **ERROR_RESPONSES},
    ),
    partial_update=extend_schema(
        summary="Change some of a client's fields",
        responses={200: ClientSerializer, 400: VALIDATION_ERROR, 404: NOT_FOUND, **ERROR_RESPONSES},
    ),
    destroy=extend_schema(
        summary="Delete a client",
        description="The client's undelivered messages become `cancelled`; its messages and "
        "their statistics stay, with `client_id` null.",
        responses={204: None, 404: NOT_FOUND, **ERROR_RESPONSES},
    ),
)
class ClientViewSet(viewsets.ModelViewSet):
    serializer_class = ClientSerializer
    filterset_class = selectors.ClientFilter

    def get_queryset(self) -> QuerySet[Client]:
        return selectors.client_list()

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page: list[Client]
        if any(name in request.query_params for name in selectors.ClientFilter.base_filters):
            page = paginate(self, queryset)
        else:  # the whole directory: its count without counting it (clients.counters)
            page = paginate(self, KnownCount(queryset, counters.clients_count()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().create(request, *args, **kwargs)

    # Each change commits with its audit entry: one transaction (one write to the log, not
    # two, on the API's busiest write), and no change without its entry.
    @transaction.atomic
    def perform_create(self, serializer: BaseSerializer[Client]) -> None:
        serializer.instance = services.client_create(**serializer.validated_data)
        audit_record(
            actor=self.request.user, action="client.create", object_id=serializer.instance.pk
        )

    @transaction.atomic
    def perform_update(self, serializer: BaseSerializer[Client]) -> None:
        serializer.instance = services.client_update(
            client=cast(Client, serializer.instance), **serializer.validated_data
        )
        audit_record(
            actor=self.request.user,
            action="client.update",
            object_id=serializer.instance.pk,
            details={"fields": sorted(serializer.validated_data)},
        )

    @transaction.atomic
    def perform_destroy(self, instance: Client) -> None:
        client_id = instance.pk
        services.client_delete(client=instance)
        audit_record(actor=self.request.user, action="client.delete", object_id=client_id)

    @extend_schema(
        summary="Import clients in bulk",
        description=(
            "Send a CSV file in the multipart field `file` (header "
            "`phone,operator_code,tag,timezone`, optionally `consent_at,consent_source`; "
            'UTF-8), or JSON: `{"clients": [...]}` '
            "(a bare array of client objects is taken too; it is not declared here because "
            "generated clients cannot send one beside the multipart form). "
            "Existing phones are updated: an empty cell keeps the current value for an "
            "existing client and takes the default for a new one. Valid rows are saved, "
            "each rejected row is reported with its line and reason. A file that cannot be "
            "read at all (bad header, not UTF-8) is a 400 and saves nothing."
        ),
        request={
            "multipart/form-data": ImportRequestSerializer,
            "application/json": ImportJsonSerializer,
        },
        parameters=[IDEMPOTENCY_KEY],
        responses={
            200: ImportResultSerializer,
            400: VALIDATION_ERROR,
            **ERROR_RESPONSES,
            **IDEMPOTENCY_RESPONSES,
        },
        examples=[IMPORT_EXAMPLE],
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        url_name="import",
        parser_classes=[MultiPartParser, ImportJSONParser],
        filterset_class=None,
        pagination_class=None,
    )
    @idempotent
    @transaction.atomic  # the import is one transaction already; its entry joins it
    def import_clients(self, request: Request) -> Response:
        rows: Any
        data = request.data
        if isinstance(data, list):
            rows = importing.json_rows(data)
        elif "file" in request.FILES:
            rows = importing.csv_rows(request.FILES["file"].file)
        elif isinstance(data, dict) and set(data) == {"clients"}:
            rows = importing.json_rows(data["clients"])
        else:
            rows = importing.json_rows(data)
        result = importing.clients_import(rows=rows)
        answer = result.as_answer()
        audit_record(
            actor=request.user,
            action="client.import",
            details={k: answer[k] for k in ("created", "updated", "rejected_count")},
        )
        return Response(answer, status=status.HTTP_200_OK)
