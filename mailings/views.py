from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.audit import audit_record
from accounts.roles import OPERATOR
from core.idempotency import idempotent
from core.openapi import (
    CONFLICT,
    ERROR_RESPONSES,
    IDEMPOTENCY_KEY,
    IDEMPOTENCY_RESPONSES,
    NOT_FOUND,
    VALIDATION_ERROR,
)
from core.pagination import KnownCount, paginate
from mailings import selectors, services
from mailings.export import export_response
from mailings.models import Mailing, Message, MessageStatus, TestSend
from mailings.preview import preview_of
from mailings.serializers import (
    MailingPreviewRequestSerializer,
    MailingPreviewSerializer,
    MailingSerializer,
    MailingStatisticsRowSerializer,
    MessageSerializer,
    MessageStatisticsSerializer,
    MessageStatusQuerySerializer,
    OverallStatisticsSerializer,
    TestSendAcceptedSerializer,
    TestSendRequestSerializer,
    TestSendSerializer,
)
from mailings.testsends import create_test_sends

UPDATE_RULES = (
    "A `scheduled` mailing may change any field (a start time now or earlier starts it); a "
    "`running` one only `end_at` (never into the past), `text` and `send_window`, which apply "
    "to messages not yet sent; anything else is a 409. Repeating a field's current value is "
    "not a change."
)
ACTION_RESPONSES = {200: MailingSerializer, 404: NOT_FOUND, 409: CONFLICT, **ERROR_RESPONSES}


@extend_schema_view(
    list=extend_schema(summary="List mailings, with message counts by status"),
    create=extend_schema(
        summary="Create a mailing",
        description="A mailing whose `start_at` is now or earlier starts at once: its "
        "`status` becomes `running` within about a second.",
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: MailingSerializer,
            400: VALIDATION_ERROR,
            **ERROR_RESPONSES,
            **IDEMPOTENCY_RESPONSES,
        },
    ),
    retrieve=extend_schema(
        summary="Read a mailing",
        responses={200: MailingSerializer, 404: NOT_FOUND, **ERROR_RESPONSES},
    ),
    update=extend_schema(
        summary="Replace a mailing",
        description=UPDATE_RULES,
        responses={
            200: MailingSerializer,
            400: VALIDATION_ERROR,
            404: NOT_FOUND,
            409: CONFLICT,
            **ERROR_RESPONSES,
        },
    ),
    partial_update=extend_schema(
        summary="Change some of a mailing's fields",
        description=UPDATE_RULES,
        responses={
            200: MailingSerializer,
            400: VALIDATION_ERROR,
            404: NOT_FOUND,
            409: CONFLICT,
            **ERROR_RESPONSES,
        },
    ),
    destroy=extend_schema(
        summary="Delete a mailing and its messages",
        description="Sending stops before the answer: nothing of it is claimed afterwards; "
        "messages a dispatcher claimed before it may still reach the gateway within a "
        "fraction of a second.",
        responses={204: None, 404: NOT_FOUND, **ERROR_RESPONSES},
    ),
)
class MailingViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = MailingSerializer
    required_role: str | None = None  # an action's own (accounts.permissions.HasRole)

    def get_queryset(self) -> QuerySet[Mailing]:
        return selectors.mailing_list()

    def _mailing_response(self, mailing: Mailing, code: int = status.HTTP_200_OK) -> Response:
        return Response(self.get_serializer(mailing).data, status=code)

    def _page_with_counts(self) -> tuple[list[Mailing], dict[int, dict[str, Any]]]:
        page = paginate(self, self.get_queryset())
        return page, selectors.message_counts(mailing_ids=[m.pk for m in page])

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page, counts = self._page_with_counts()
        serializer = self.get_serializer(
            page, many=True, context={**self.get_serializer_context(), "message_counts": counts}
        )
        return self.get_paginated_response(serializer.data)

    # Each write commits with its audit entry: one transaction, no change without its entry.
    @idempotent
    @transaction.atomic
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        mailing = services.mailing_create(**serializer.validated_data)
        audit_record(actor=request.user, action="mailing.create", object_id=mailing.pk)
        return self._mailing_response(mailing, status.HTTP_201_CREATED)

    @transaction.atomic
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        partial = kwargs.pop("partial", False)
        mailing = self.get_object()
        serializer = self.get_serializer(mailing, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        mailing = services.mailing_update(mailing=mailing, changes=serializer.validated_data)
        fields = sorted(serializer.validated_data)
        audit_record(
            actor=request.user,
            action="mailing.update",
            object_id=mailing.pk,
            details={"fields": fields},
        )
        return self._mailing_response(mailing)

    @transaction.atomic
    def perform_destroy(self, instance: Mailing) -> None:
        mailing_id = instance.pk
        services.mailing_delete(mailing=instance)
        audit_record(actor=self.request.user, action="mailing.delete", object_id=mailing_id)

    @transaction.atomic
    def _act(self, request: Request, verb: str, act: Any) -> Response:
        """A mailing action (start, pause, resume, cancel, retry), recorded in the audit log."""
        mailing = act(mailing=self.get_object())
        audit_record(actor=request.user, action=f"mailing.{verb}", object_id=mailing.pk)
        return self._mailing_response(mailing)

    @extend_schema(
        summary="Start a scheduled mailing now",
        description="`start_at` becomes now. No-op on a running mailing; 409 when it is "
        "finished or cancelled, or its end time has passed.",
        request=None,
        responses=ACTION_RESPONSES,
    )
    @action(detail=True, methods=["post"])
    def start_mailing(self, request: Request, pk: str | None = None) -> Response:
        return self._act(request, "start", services.mailing_start_now)

    @extend_schema(
        summary="Pause a mailing",
        description="A scheduled or running mailing becomes `paused`: none of its messages "
        "is claimed after this answer (those already claimed, `sending`, go out within a "
        "fraction of a second and record their real outcomes); the rest wait. Idempotent; "
        "409 when finished or cancelled. A paused mailing still ends at `end_at`.",
        request=None,
        responses=ACTION_RESPONSES,
    )
    @action(detail=True, methods=["post"])
    def pause_mailing(self, request: Request, pk: str | None = None) -> Response:
        return self._act(request, "pause", services.mailing_pause)

    @extend_schema(
        summary="Resume a paused mailing",
        description="It runs again (or is scheduled, while its start is ahead); exactly the "
        "messages still pending continue. 409 unless paused.",
        request=None,
        responses=ACTION_RESPONSES,
    )
    @action(detail=True, methods=["post"])
    def resume_mailing(self, request: Request, pk: str | None = None) -> Response:
        return self._act(request, "resume", services.mailing_resume)

    @extend_schema(
        summary="Cancel a mailing",
        description="Pending messages become `cancelled` and none is claimed afterwards; "
        "those already claimed (`sending`) go out and record their real outcomes. Idempotent; a "
        "finished mailing stays finished.",
        request=None,
        responses=ACTION_RESPONSES,
    )
    @action(detail=True, methods=["post"])
    def cancel_mailing(self, request: Request, pk: str | None = None) -> Response:
        return self._act(request, "cancel", services.mailing_cancel)

    @extend_schema(
        summary="Retry the failed messages",
        description="`failed` messages go back to `pending` with fresh attempts while "
        "`end_at` is ahead; a finished mailing runs again. 409 when the end time has passed "
        "or the mailing is scheduled or cancelled.",
        request=None,
        responses=ACTION_RESPONSES,
    )
    @action(detail=True, methods=["post"])
    def retry_failed(self, request: Request, pk: str | None = None) -> Response:
        return self._act(request, "retry", services.mailing_retry_failed)

    @extend_schema(
        summary="Preview a mailing before creating it",
        description="Takes a create's body (`start_at` and `end_at` optional) and saves "
        "nothing. Counts what a launch now would create: recipients, those suppressed (stop "
        "list; no consent for advertising), recipients by operator code and time zone, how "
        "many are inside their send window now, the text's segments, parts (recipients x "
        "segments), the cost from PRICE_PER_SEGMENT and the time at GATEWAY_RATE.",
        request=MailingPreviewRequestSerializer,
        responses={200: MailingPreviewSerializer, 400: VALIDATION_ERROR, **ERROR_RESPONSES},
    )
    @action(detail=False, methods=["post"], pagination_class=None)
    def preview(self, request: Request) -> Response:
        serializer = MailingPreviewRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = preview_of(data)
        return Response(result.as_dict())

    @extend_schema(
        summary="Send the mailing's text to test numbers now",
        description="1 to 5 numbers get the text now, whatever the mailing's status, start, "
        "end or window. Test sends count in no statistic and retry like messages for "
        "TEST_SEND_RETRY_SECONDS (10 minutes); a listed number's is `suppressed`. Follow "
        "each at `GET /api/test_sends/{id}/`.",
        request=TestSendRequestSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            202: TestSendAcceptedSerializer,
            400: VALIDATION_ERROR,
            404: NOT_FOUND,
            **ERROR_RESPONSES,
            **IDEMPOTENCY_RESPONSES,
        },
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def test_send(self, request: Request, pk: str | None = None) -> Response:
        mailing = self.get_object()
        serializer = TestSendRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        created = create_test_sends(mailing=mailing, phones=serializer.validated_data["phones"])
        audit_record(
            actor=request.user,
            action="mailing.test_send",
            object_id=mailing.pk,
            details={"test_sends": [t.pk for t in created]},
        )
        results = [{"id": t.pk, "phone": t.phone, "status": t.status} for t in created]
        return Response({"results": results}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Export a mailing's messages as CSV",
        description="Streams `text/csv` with the header "
        "`message_id,client_id,phone,status,attempts,created_at,sent_at,last_error`, one row "
        "per message in id order, in bounded memory however many. A cell starting with `=`, "
        "`+`, `-` or `@` is prefixed with `'` (no formula runs when it is opened).",
        responses={
            (200, "text/csv"): OpenApiResponse(
                response={"type": "string"}, description="The CSV file."
            ),
            404: NOT_FOUND,
            **ERROR_RESPONSES,
        },
    )
    @action(detail=True, methods=["get"], pagination_class=None, required_role=OPERATOR)
    def export(self, request: Request, pk: str | None = None) -> StreamingHttpResponse:
        mailing = self.get_object()
        audit_record(actor=request.user, action="mailing.export", object_id=mailing.pk)
        return export_response(mailing_id=mailing.pk)

    @extend_schema(
        summary="Statistics over all mailings",
        description="Mailings by status and messages by status over everything, then a "
        "page of mailings with their message counts (newest first).",
        responses={200: OverallStatisticsSerializer, **ERROR_RESPONSES},
    )
    @action(detail=False, methods=["get"])
    def statistics(self, request: Request) -> Response:
        page, counts = self._page_with_counts()
        rows = MailingStatisticsRowSerializer(page, many=True, context={"message_counts": counts})
        paginated = self.get_paginated_response(rows.data).data
        return Response({**selectors.statistics_overview(), **paginated})

    @extend_schema(
        summary="A mailing's messages and their counts by status",
        parameters=[
            OpenApiParameter(
                "status",
                enum=MessageStatus.values,
                required=False,
                description="Only messages with this status.",
            )
        ],
        responses={
            200: MessageStatisticsSerializer,
            400: VALIDATION_ERROR,
            404: NOT_FOUND,
            **ERROR_RESPONSES,
        },
    )
    @action(detail=True, methods=["get"])
    def message_statistics(self, request: Request, pk: str | None = None) -> Response:
        mailing = get_object_or_404(Mailing, pk=pk)
        query = MessageStatusQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        counts = selectors.message_counts(mailing_ids=[mailing.pk])
        status = query.validated_data.get("status")
        messages = selectors.mailing_messages(mailing=mailing, status=status)
        known = counts[mailing.pk]["by_status"][status] if status else counts[mailing.pk]["total"]
        page: list[Message] = paginate(self, KnownCount(messages, known))
        rows = MessageSerializer(page, many=True, context=self.get_serializer_context())
        paginated = self.get_paginated_response(rows.data).data
        mailing_data = MailingSerializer(
            mailing, context={**self.get_serializer_context(), "message_counts": counts}
        ).data
        return Response({"mailing": mailing_data, **counts[mailing.pk], **paginated})


@extend_schema_view(
    retrieve=extend_schema(
        summary="Read a test send",
        responses={200: TestSendSerializer, 404: NOT_FOUND, **ERROR_RESPONSES},
    ),
)
class TestSendViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = TestSendSerializer
    queryset = TestSend.objects.all()
