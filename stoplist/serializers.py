from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from accounts.permissions import MaskedPhones
from clients.serializers import PhoneField
from core.fields import StringField
from stoplist.models import REASON_MAX_LENGTH, StopListEntry


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "The subscriber asked to stop",
            value={"phone": "+7 900 123-45-67", "reason": "replied STOP"},
            request_only=True,
        ),
    ]
)
class StopListEntrySerializer(MaskedPhones, serializers.ModelSerializer):
    phone = PhoneField(
        max_length=32,
        help_text="11 digits starting with 7; a leading +, spaces, dashes and parentheses "
        "are stripped.",
    )
    reason = StringField(
        required=False,
        allow_blank=True,
        default="",
        max_length=REASON_MAX_LENGTH,
        help_text="Why it is listed (e.g. the subscriber's request).",
    )
    created_by = serializers.SerializerMethodField()

    class Meta:
        model = StopListEntry
        fields = ["phone", "reason", "source", "created_at", "created_by"]
        read_only_fields = ["source", "created_at", "created_by"]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_created_by(self, entry: StopListEntry) -> str | None:
        """Who listed it (a username), or null when not known."""
        return entry.created_by or None


class StopListImportRequestSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV with the header phone,reason (UTF-8).")


class StopListImportJsonSerializer(serializers.Serializer):
    entries = StopListEntrySerializer(many=True, help_text="As in POST /api/stoplist/.")
