from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema_field,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import serializers

from accounts.permissions import MaskedPhones
from clients import validation
from clients.models import Client
from core.fields import StringField


@extend_schema_field({"type": "string", "pattern": validation.PHONE_INPUT_PATTERN, "maxLength": 32})
class PhoneField(serializers.CharField):
    """Accepts ``+7 (900) 123-45-67``, ``79001234567`` or the number; stores 11 digits."""

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, str) and self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        try:
            return validation.clean_phone(data)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc


@extend_schema_field({"type": "string", "enum": sorted(validation.known_timezones())})
class TimezoneField(serializers.CharField):
    """An IANA time zone name (the document lists them)."""


def _cleaned(clean: Any) -> Any:
    def validator(value: Any) -> None:
        try:
            clean(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc

    return validator


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A client in Moscow",
            value={
                "phone": "+7 (900) 123-45-67",
                "operator_code": "900",
                "tag": "vip",
                "timezone": "Europe/Moscow",
            },
            request_only=True,
        ),
        OpenApiExample(
            "A client",
            value={
                "id": 1,
                "phone": "79001234567",
                "operator_code": "900",
                "tag": "vip",
                "timezone": "Europe/Moscow",
                "consent_at": "2026-03-01T12:00:00Z",
                "consent_source": "web form",
                "created_at": "2026-11-27T09:00:00Z",
            },
            response_only=True,
        ),
    ]
)
class ClientSerializer(MaskedPhones, serializers.ModelSerializer):
    # Uniqueness is the database's: the insert or update meets the unique constraint, and
    # the services answer its IntegrityError as this field's 400 ("A client with this phone
    # exists."). A check here cost every create one statement more and could still lose the
    # race to a concurrent create.
    phone = PhoneField(
        max_length=32,
        help_text="11 digits starting with 7; a leading +, spaces, dashes and parentheses "
        "are stripped.",
    )
    operator_code = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        validators=[
            RegexValidator(r"^[0-9]{3}$", "Enter exactly 3 digits (0-9), e.g. 900."),
            _cleaned(validation.clean_operator_code),
        ],
        help_text="3 digits; derived from phone digits 2-4 when omitted or empty.",
    )
    tag = StringField(
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=validation.TAG_MAX_LENGTH,
        default="",
        help_text="Free label, matched exactly by mailing filters.",
    )
    timezone = TimezoneField(
        required=False,
        default=validation.DEFAULT_TIMEZONE,
        validators=[_cleaned(validation.clean_timezone)],
        help_text="IANA time zone name, e.g. Europe/Moscow.",
    )

    consent_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="When the client consented to advertising (ISO 8601), or null: no "
        "consent. Advertising mailings reach consenting clients only.",
    )
    consent_source = StringField(
        required=False,
        allow_blank=True,
        max_length=validation.CONSENT_SOURCE_MAX_LENGTH,
        help_text="How the consent was given, e.g. 'web form 2026-03', 'SMS reply'.",
    )

    class Meta:
        model = Client
        fields = [
            "id",
            "phone",
            "operator_code",
            "tag",
            "timezone",
            "consent_at",
            "consent_source",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "tag" in attrs and attrs["tag"] is None:
            attrs["tag"] = ""
        if attrs.get("operator_code"):
            return attrs
        # Omitted or empty: derive from the phone for a new client, a changed phone, or an
        # explicitly emptied code; otherwise the current code stays.
        attrs.pop("operator_code", None)
        instance = self.instance
        phone_changed = "phone" in attrs and (instance is None or attrs["phone"] != instance.phone)
        code_cleared = "operator_code" in self.initial_data
        if instance is None or phone_changed or code_cleared:
            phone = attrs.get("phone") or (instance.phone if instance else "")
            attrs["operator_code"] = validation.operator_code_from_phone(phone)
        return attrs


ImportRejectedRow = inline_serializer(
    "ImportRejectedRow",
    {
        "line": serializers.IntegerField(
            help_text="CSV: the file's line number (the header is line 1). JSON: the item's "
            "1-based position in the array."
        ),
        "errors": serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()),
            help_text="Messages by field (non_field_errors for a malformed row).",
        ),
    },
)


class ImportResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    rejected = serializers.ListField(
        child=ImportRejectedRow, help_text="The first 1,000 rejected rows, in line order."
    )
    rejected_count = serializers.IntegerField(help_text="How many rows were rejected in all.")


class ImportRequestSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="CSV with the header phone,operator_code,tag,timezone and optionally "
        "consent_at,consent_source (UTF-8)."
    )


class ImportJsonSerializer(serializers.Serializer):
    clients = ClientSerializer(many=True, help_text="The clients, as in POST /api/clients/.")
