"""Shared pieces of the OpenAPI document: the error shapes every endpoint may answer."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, inline_serializer
from rest_framework import serializers

DetailSerializer = inline_serializer("ErrorDetail", {"detail": serializers.CharField()})
FieldErrorsSerializer = inline_serializer(
    "FieldErrors",
    {
        "field_name": serializers.ListField(
            child=serializers.CharField(), help_text="Messages for that field."
        )
    },
)

VALIDATION_ERROR = OpenApiResponse(
    FieldErrorsSerializer,
    description="Bad input: an object whose keys are the fields (or `non_field_errors`) and "
    "whose values are lists of messages.",
    examples=[
        OpenApiExample(
            "Bad phone",
            value={"phone": ["Enter 11 digits (0-9) starting with 7, e.g. 79001234567."]},
        )
    ],
)
UNAUTHORIZED = OpenApiResponse(
    DetailSerializer,
    description="No valid access token.",
    examples=[
        OpenApiExample(
            "No token", value={"detail": "Authentication credentials were not provided."}
        )
    ],
)
NOT_FOUND = OpenApiResponse(
    DetailSerializer,
    description="No such object.",
    examples=[OpenApiExample("Not found", value={"detail": "No Mailing matches the given query."})],
)
CONFLICT = OpenApiResponse(
    DetailSerializer,
    description="The request is valid but clashes with the object's current state.",
    examples=[
        OpenApiExample("Finished", value={"detail": "Mailing 7 is finished; it cannot start."})
    ],
)

ERROR_RESPONSES = {401: UNAUTHORIZED}
