"""``GET /api/audit/`` (admin): the audit log, newest first, filtered by actor, action,
object type and object id. Read-only: nobody changes or deletes an entry."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets

from accounts.audit import OBJECT_TYPES
from accounts.models import AuditEntry
from accounts.roles import ADMIN
from core.openapi import ERROR_RESPONSES, VALIDATION_ERROR


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
