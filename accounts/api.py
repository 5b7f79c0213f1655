"""The admins' API: ``GET /api/audit/``, the audit log, newest first, filtered by actor,
action, object type and object id (read-only: nobody changes or deletes an entry); and
``/api/keys/``, the API keys."""

from __future__ import annotations

from typing import Any, cast

import django_filters
from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.audit import OBJECT_TYPES, audit_record
from accounts.models import ApiKey, AuditEntry
from accounts.roles import ADMIN, ROLES
from core.openapi import ERROR_RESPONSES, NOT_FOUND, VALIDATION_ERROR


class AuditEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEntry
        fields = ["id", "at", "actor", "action", "object_type", "object_id", "details"]
        read_only_fields = fields


class AuditFilter(django_filters.FilterSet):
    actor = django_filters.CharFilter(max_length=160)
    action = django_filters.CharFilter(max_length=40)
    object_type = django_filters.ChoiceFilter(choices=[(t, t) for t in OBJECT_TYPES])
    object_id = django_filters.CharFilter(max_length=64)

    class Meta:
        model = AuditEntry
        fields = ["actor", "action", "object_type", "object_id"]


@extend_schema_view(
    list=extend_schema(
        summary="The audit log (admin)",
        description="Every write through the API or the admin, newest first: who (`actor`: a "
        "username or `key:<name>`), what (`action`: `<object_type>.<verb>`), on which object. "
        "Filters: `?actor=`, `?action=`, `?object_type=`, `?object_id=`.",
        responses={200: AuditEntrySerializer, 400: VALIDATION_ERROR, **ERROR_RESPONSES},
    )
)
class AuditViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = AuditEntrySerializer
    filterset_class = AuditFilter
    required_role = ADMIN

    def get_queryset(self) -> QuerySet[AuditEntry]:
        return AuditEntry.objects.order_by("-id")


class ApiKeySerializer(serializers.ModelSerializer):
    role = serializers.ChoiceField(choices=ROLES)
    created_at = serializers.DateTimeField(source="created", read_only=True)

    class Meta:
        model = ApiKey
        fields = ["id", "name", "role", "prefix", "created_at", "last_used_at"]
        read_only_fields = ["id", "prefix", "created_at", "last_used_at"]


class NewApiKeySerializer(ApiKeySerializer):
    key = serializers.CharField(read_only=True, help_text="Shown in this answer only.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = [*ApiKeySerializer.Meta.read_only_fields, "key"]


@extend_schema_view(
    list=extend_schema(
        summary="API keys (admin)", responses={200: ApiKeySerializer, **ERROR_RESPONSES}
    ),
    destroy=extend_schema(
        summary="Revoke an API key (admin)",
        description="From now on a request with it is a 401.",
        responses={204: None, 404: NOT_FOUND, **ERROR_RESPONSES},
    ),
)
class ApiKeyViewSet(mixins.ListModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    serializer_class = ApiKeySerializer
    required_role = ADMIN
    lookup_field = "id"
    lookup_value_regex = r"[^/]+"

    def get_queryset(self) -> Any:
        return ApiKey.objects.filter(revoked=False).order_by("-created")

    @extend_schema(
        summary="Make an API key (admin)",
        request=ApiKeySerializer,
        responses={201: NewApiKeySerializer, 400: VALIDATION_ERROR, **ERROR_RESPONSES},
    )
    @transaction.atomic  # the key and its audit entry, or neither
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = ApiKeySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        made, secret = ApiKey.objects.create_key(**serializer.validated_data)
        key = cast(ApiKey, made)
        audit_record(
            actor=request.user,
            action="key.create",
            object_id=key.prefix,
            details={"role": key.role},
        )
        answer = {**ApiKeySerializer(key).data, "key": secret}
        return Response(answer, status=status.HTTP_201_CREATED)

    @transaction.atomic
    def perform_destroy(self, instance: ApiKey) -> None:
        instance.revoked = True
        instance.save(update_fields=["revoked"])
        audit_record(actor=self.request.user, action="key.delete", object_id=instance.prefix)
