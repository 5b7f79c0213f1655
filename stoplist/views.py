from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.audit import actor_of, audit_record
from clients import importing, validation
from clients.serializers import ImportResultSerializer
from core.idempotency import idempotent
from core.openapi import (
    ERROR_RESPONSES,
    IDEMPOTENCY_KEY,
    IDEMPOTENCY_RESPONSES,
    NOT_FOUND,
    VALIDATION_ERROR,
)
from core.parsers import ImportJSONParser
from stoplist import selectors, services
from stoplist.models import Source, StopListEntry
from stoplist.serializers import (
    StopListEntrySerializer,
    StopListImportJsonSerializer,
    StopListImportRequestSerializer,
)

PHONE_PATH = OpenApiParameter(
    "phone",
    str,
    OpenApiParameter.PATH,
    description="The number, written as for a client (e.g. 79001234567).",
)


@extend_schema_view(
    list=extend_schema(
        summary="List the stop list",
        description="Newest first. A listed number receives nothing from any mailing.",
        responses={200: StopListEntrySerializer, **ERROR_RESPONSES},
    ),
    retrieve=extend_schema(
        summary="Read a number's stop-list entry",
        parameters=[PHONE_PATH],
        responses={200: StopListEntrySerializer, 404: NOT_FOUND, **ERROR_RESPONSES},
    ),
    destroy=extend_schema(
        summary="Take a number off the stop list",
        parameters=[PHONE_PATH],
        responses={204: None, 404: NOT_FOUND, **ERROR_RESPONSES},
    ),
)
class StopListViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = StopListEntrySerializer
    lookup_field = "phone"
    lookup_value_regex = "[^/]+"

    def get_queryset(self) -> QuerySet[StopListEntry]:
        return selectors.stoplist_entries()

    def get_object(self) -> StopListEntry:
        try:
            phone = validation.clean_phone(self.kwargs["phone"])
        except ValueError as exc:
            raise NotFound("This number is not on the stop list.") from exc
        entry = self.get_queryset().filter(phone=phone).first()
        if entry is None:
            raise NotFound("This number is not on the stop list.")
        return entry

    @extend_schema(
        summary="Put a number on the stop list",
        description="201 with the new entry; a number already listed answers 200 with its "
        "entry, unchanged. From then on the number receives nothing: pending messages to "
        "it are suppressed before their request starts.",
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: StopListEntrySerializer,
            200: StopListEntrySerializer,
            400: VALIDATION_ERROR,
            **ERROR_RESPONSES,
            **IDEMPOTENCY_RESPONSES,
        },
    )
    # Each write commits with its audit entry: one transaction, no change without its entry.
    @idempotent
    @transaction.atomic
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        entry, created = services.stoplist_add(
            **serializer.validated_data, source=Source.API, created_by=actor_of(request.user)
        )
        if created:
            audit_record(actor=request.user, action="stoplist.create", object_id=entry.phone)
        answer = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(self.get_serializer(entry).data, status=answer)

    @transaction.atomic
    def perform_destroy(self, instance: StopListEntry) -> None:
        phone = instance.phone
        services.stoplist_remove(entry=instance)
        audit_record(actor=self.request.user, action="stoplist.delete", object_id=phone)

    @extend_schema(
        summary="Import numbers to the stop list",
        description="A CSV file in the multipart field `file` with the header `phone,reason` "
        '(reason optional; UTF-8), or JSON `{"entries": [{"phone", "reason"}, ...]}`. '
        "New numbers are `created`; a listed one takes the row's "
        "reason when it gives one (`updated`); each rejected row is reported with its line "
        "and reason. A file that cannot be read at all is a 400 and lists nothing.",
        request={
            "multipart/form-data": StopListImportRequestSerializer,
            "application/json": StopListImportJsonSerializer,
        },
        parameters=[IDEMPOTENCY_KEY],
        responses={
            200: ImportResultSerializer,
            400: VALIDATION_ERROR,
            **ERROR_RESPONSES,
            **IDEMPOTENCY_RESPONSES,
        },
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        url_name="import",
        parser_classes=[MultiPartParser, ImportJSONParser],
        pagination_class=None,
    )
    @idempotent
    @transaction.atomic  # the import is one transaction already; its entry joins it
    def import_numbers(self, request: Request) -> Response:
        rows: Any
        data = request.data
        columns = services.IMPORT_COLUMNS
        if "file" in request.FILES:
            rows = importing.csv_rows(request.FILES["file"].file, columns=columns)
        elif isinstance(data, dict) and set(data) == {"entries"}:
            rows = importing.json_rows(data["entries"], columns=columns)
        else:
            raise ValidationError(
                {
                    "non_field_errors": [
                        "Send a CSV file in the multipart field 'file', or JSON: "
                        '{"entries": [{"phone": ..., "reason": ...}, ...]}.'
                    ]
                }
            )
        result = services.stoplist_import(rows=rows, created_by=actor_of(request.user))
        answer = result.as_answer()
        audit_record(
            actor=request.user,
            action="stoplist.import",
            details={k: answer[k] for k in ("created", "updated", "rejected_count")},
        )
        return Response(answer, status=status.HTTP_200_OK)
