from __future__ import annotations

from datetime import time
from typing import Any

from django.conf import settings
from django.core.validators import RegexValidator
from drf_spectacular.utils import OpenApiExample, extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from accounts.permissions import MaskedPhones
from clients import validation
from clients.serializers import PhoneField
from core.fields import StringField
from mailings import segments
from mailings.models import (
    Kind,
    Mailing,
    Message,
    MessageStatus,
    Priority,
    TestSend,
    TestSendStatus,
)
from mailings.testsends import MAX_PHONES

WINDOW_FORMAT = "%H:%M"
WINDOW_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


@extend_schema_field({"type": "string", "pattern": WINDOW_PATTERN, "example": "09:00"})
class WindowTimeField(serializers.TimeField):
    """``HH:MM``."""


@extend_schema_field(
    {"type": "string", "pattern": r"^([0-9]{3})?$", "nullable": True, "example": "900"}
)
class FilterCodeField(serializers.CharField):
    """Three digits, or empty or null for any."""


class MailingFilterSerializer(serializers.Serializer):
    operator_code = FilterCodeField(
        required=False, allow_null=True, allow_blank=True, help_text="3 digits, or null: any."
    )
    tag = StringField(
        required=False,
        allow_null=True,
        allow_blank=True,
        max_length=validation.TAG_MAX_LENGTH,
        help_text="Exact tag, or null: any.",
    )

    def validate_operator_code(self, value: str | None) -> str:
        if not value:
            return ""
        try:
            return validation.clean_operator_code(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc

    def validate_tag(self, value: str | None) -> str:
        return value or ""


BOTH_ENDS = "Give both ends of the window (start and end), or null for no window."


class SendWindowSerializer(serializers.Serializer):
    start = WindowTimeField(
        format=WINDOW_FORMAT,
        input_formats=[WINDOW_FORMAT],
        help_text="HH:MM, inclusive.",
        error_messages={"required": BOTH_ENDS},
    )
    end = WindowTimeField(
        format=WINDOW_FORMAT,
        input_formats=[WINDOW_FORMAT],
        help_text="HH:MM, exclusive.",
        error_messages={"required": BOTH_ENDS},
    )

    def validate(self, attrs: dict[str, time]) -> dict[str, time]:
        if attrs["start"] == attrs["end"]:
            raise serializers.ValidationError(
                "start and end must differ (use null for no window); a window may cross "
                "midnight, e.g. 22:00-06:00."
            )
        return attrs


@extend_schema_field(MailingFilterSerializer)
class FilterField(serializers.Field):
    """``{"operator_code", "tag"}`` stored as two columns; null or {} selects everyone."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(source="*", required=False, allow_null=True, **kwargs)

    def validate_empty_values(self, data: Any) -> tuple[bool, Any]:
        if data is None:  # a null filter is a valid value: everyone
            return True, {"filter_operator_code": "", "filter_tag": ""}
        return super().validate_empty_values(data)

    def to_internal_value(self, data: Any) -> dict[str, str]:
        nested = MailingFilterSerializer(data=data)
        nested.is_valid(raise_exception=True)
        return {
            "filter_operator_code": nested.validated_data.get("operator_code") or "",
            "filter_tag": nested.validated_data.get("tag") or "",
        }

    def to_representation(self, mailing: Mailing) -> dict[str, str | None]:
        # Stored as "" (matches everyone), shown as null.
        return {
            "operator_code": mailing.filter_operator_code or None,
            "tag": mailing.filter_tag or None,
        }


@extend_schema_field(SendWindowSerializer(allow_null=True))
class SendWindowField(serializers.Field):
    """``{"start": "HH:MM", "end": "HH:MM"}`` in the client's local time, or null."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(source="*", required=False, allow_null=True, **kwargs)

    def validate_empty_values(self, data: Any) -> tuple[bool, Any]:
        if data is None:
            return True, {"send_window_start": None, "send_window_end": None}
        return super().validate_empty_values(data)

    def to_internal_value(self, data: Any) -> dict[str, time | None]:
        nested = SendWindowSerializer(data=data)
        nested.is_valid(raise_exception=True)
        return {
            "send_window_start": nested.validated_data["start"],
            "send_window_end": nested.validated_data["end"],
        }

    def to_representation(self, mailing: Mailing) -> dict[str, str] | None:
        if mailing.send_window_start is None or mailing.send_window_end is None:
            return None
        return {
            "start": mailing.send_window_start.strftime(WINDOW_FORMAT),
            "end": mailing.send_window_end.strftime(WINDOW_FORMAT),
        }


class SegmentsSerializer(serializers.Serializer):
    encoding = serializers.ChoiceField(choices=["GSM-7", "UCS-2"])
    characters = serializers.IntegerField(
        help_text="In the encoding's units: GSM-7 septets (extension characters count 2), "
        "or UTF-16 code units (an emoji counts 2)."
    )
    segments = serializers.IntegerField(help_text="SMS parts one message takes.")


def segments_of(text: str) -> dict[str, Any]:
    counted = segments.count(text)
    return {
        "encoding": counted.encoding,
        "characters": counted.characters,
        "segments": counted.segments,
    }


def validate_text_length(text: str) -> None:
    """At most ``MAX_SEGMENTS`` segments (SPEC 8.1). A text longer than the most GSM-7
    characters that many segments hold is refused before it is counted (or cached)."""
    limit = settings.MAX_SEGMENTS
    most_gsm, most_ucs = max(160, 153 * limit), max(70, 67 * limit)
    head = text[: most_gsm + 1]
    if len(text) <= most_gsm and segments.count(text).segments <= limit:
        return
    encoding = segments.count(head).encoding
    most = most_gsm if encoding == "GSM-7" else most_ucs
    raise serializers.ValidationError(
        f"The text takes more than {limit} SMS segments (MAX_SEGMENTS): at most {most} "
        f"{encoding} characters fit."
    )


class StatusCountsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    by_status = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="Every status of its kind, zeros included.",
    )


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A mailing to VIP clients of operator 900, 09:00-21:00 local time",
            value={
                "text": "Our shop opens at 10:00 tomorrow.",
                "start_at": "2026-12-01T09:00:00+03:00",
                "end_at": "2026-12-01T21:00:00+03:00",
                "filter": {"operator_code": "900", "tag": "vip"},
                "send_window": {"start": "09:00", "end": "21:00"},
            },
            request_only=True,
        ),
    ]
)
class MailingSerializer(serializers.ModelSerializer):
    text = StringField(
        allow_blank=False,
        validators=[
            RegexValidator(r"\S", "The text must not be only spaces."),
            validate_text_length,
        ],
        help_text="The message text; not empty, at most MAX_SEGMENTS (default 6) SMS "
        "segments: 918 GSM-7 or 402 UCS-2 characters by default.",
    )
    start_at = serializers.DateTimeField(
        help_text="ISO 8601; without an offset it is UTC. Now or earlier starts at once."
    )
    end_at = serializers.DateTimeField(
        help_text="ISO 8601; after start_at and in the future. Nothing is sent after it."
    )
    filter = FilterField(help_text="Which clients receive it; every given criterion must match.")
    send_window = SendWindowField(
        help_text="Daily window in each client's local time (start inclusive, end exclusive; "
        "may cross midnight), or null for any time."
    )
    kind = serializers.ChoiceField(
        choices=Kind.choices,
        default=Kind.SERVICE,
        help_text="advertising: only to clients with consent_at, and in ADVERTISING_WINDOW "
        "when it has no send window of its own.",
    )
    priority = serializers.ChoiceField(
        choices=Priority.choices,
        default=Priority.NORMAL,
        help_text="Due messages of a higher priority are claimed first.",
    )
    max_rate = serializers.FloatField(
        required=False,
        allow_null=True,
        min_value=0.1,
        max_value=100_000,
        help_text="Segments per second for this mailing alone; null: only GATEWAY_RATE.",
    )
    paused_reason = serializers.SerializerMethodField()
    segments = serializers.SerializerMethodField()
    messages = serializers.SerializerMethodField()

    class Meta:
        model = Mailing
        fields = [
            "id",
            "text",
            "start_at",
            "end_at",
            "filter",
            "send_window",
            "kind",
            "priority",
            "max_rate",
            "segments",
            "status",
            "paused_reason",
            "created_at",
            "started_at",
            "finished_at",
            "messages",
        ]
        read_only_fields = ["id", "status", "created_at", "started_at", "finished_at"]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_paused_reason(self, mailing: Mailing) -> str | None:
        """null, "operator", or the automatic reason with its counts and commonest error."""
        return mailing.paused_reason or None

    @extend_schema_field(SegmentsSerializer)
    def get_segments(self, mailing: Mailing) -> dict[str, Any]:
        """How many SMS segments its text takes (3GPP TS 23.038)."""
        return segments_of(mailing.text)

    @extend_schema_field(StatusCountsSerializer)
    def get_messages(self, mailing: Mailing) -> dict[str, Any]:
        from mailings.selectors import message_counts

        counts = self.context.get("message_counts")
        if counts is None:
            counts = message_counts(mailing_ids=[mailing.pk])
        return counts[mailing.pk]


class MailingStatisticsRowSerializer(serializers.ModelSerializer):
    messages = serializers.SerializerMethodField()

    class Meta:
        model = Mailing
        fields = ["id", "status", "start_at", "end_at", "messages"]

    @extend_schema_field(StatusCountsSerializer)
    def get_messages(self, mailing: Mailing) -> dict[str, Any]:
        return self.context["message_counts"][mailing.pk]


class OverallStatisticsSerializer(serializers.Serializer):
    """The schema of ``GET /api/mailings/statistics/``."""

    mailings = StatusCountsSerializer()
    messages = StatusCountsSerializer()
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = MailingStatisticsRowSerializer(many=True)


class MessageSerializer(MaskedPhones, serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = [
            "id",
            "client_id",
            "phone",
            "status",
            "attempts",
            "created_at",
            "sent_at",
            "next_attempt_at",
            "last_error",
        ]
        read_only_fields = fields


class MessageStatisticsSerializer(serializers.Serializer):
    """The schema of ``GET /api/mailings/{id}/message_statistics/``."""

    mailing = MailingSerializer()
    total = serializers.IntegerField()
    by_status = serializers.DictField(child=serializers.IntegerField())
    count = serializers.IntegerField(help_text="Messages matching ?status= (all without it).")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = MessageSerializer(many=True)


class MessageStatusQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=MessageStatus.choices, required=False)


class MailingPreviewRequestSerializer(MailingSerializer):
    """A create's body; ``start_at`` and ``end_at`` may be left out."""

    start_at = serializers.DateTimeField(required=False, help_text="Optional here.")
    end_at = serializers.DateTimeField(required=False, help_text="Optional here.")

    class Meta(MailingSerializer.Meta):
        pass


class SuppressedCountsSerializer(serializers.Serializer):
    stop_list = serializers.IntegerField(help_text="Matching clients whose number is listed.")
    no_consent = serializers.IntegerField(
        help_text="Advertising only: matching clients, not listed, without consent_at."
    )


class CostSerializer(serializers.Serializer):
    amount = serializers.CharField(help_text="A decimal: parts x PRICE_PER_SEGMENT.")
    currency = serializers.CharField(help_text="CURRENCY, e.g. RUB.")


class MailingPreviewSerializer(serializers.Serializer):
    recipients = serializers.IntegerField(help_text="Messages that would be sent.")
    suppressed = SuppressedCountsSerializer()
    by_operator_code = serializers.DictField(
        child=serializers.IntegerField(), help_text="Recipients by operator code."
    )
    by_timezone = serializers.DictField(
        child=serializers.IntegerField(), help_text="Recipients by time zone."
    )
    in_window_now = serializers.IntegerField(
        help_text="Recipients whose send window (or ADVERTISING_WINDOW) is open now."
    )
    segments = SegmentsSerializer()
    parts = serializers.IntegerField(help_text="recipients x segments: what the gateway bills.")
    cost = CostSerializer(allow_null=True, help_text="null when PRICE_PER_SEGMENT is not set.")
    estimated_seconds = serializers.FloatField(
        allow_null=True, help_text="parts ÷ GATEWAY_RATE; null without a rate."
    )


class TestSendRequestSerializer(serializers.Serializer):
    phones = serializers.ListField(
        child=PhoneField(max_length=32),
        min_length=1,
        max_length=MAX_PHONES,
        help_text=f"1 to {MAX_PHONES} numbers, written as for a client.",
    )

    def validate_phones(self, phones: list[str]) -> list[str]:
        return list(dict.fromkeys(phones))  # one test send per number


class TestSendResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    phone = serializers.CharField()
    status = serializers.ChoiceField(choices=TestSendStatus.choices)


class TestSendAcceptedSerializer(serializers.Serializer):
    results = TestSendResultSerializer(many=True)


class TestSendSerializer(MaskedPhones, serializers.ModelSerializer):
    mailing_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = TestSend
        fields = [
            "id",
            "mailing_id",
            "phone",
            "status",
            "attempts",
            "last_error",
            "created_at",
            "sent_at",
        ]
        read_only_fields = fields
