"""Shared pieces of the OpenAPI document: the error shapes every endpoint may answer, and
the hook that documents the answers every ``/api/`` operation can give (SPEC 8.6)."""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    inline_serializer,
)
from rest_framework import serializers

DetailSerializer = inline_serializer("ErrorDetail", {"detail": serializers.CharField()})

# {"field": ["message", …], "nested": {"field": ["message"]}, "non_field_errors": [...]}
FIELD_ERRORS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Keys are the request's fields (or `non_field_errors`); values are lists of "
    "messages, or the same shape for a nested object.",
    "additionalProperties": {
        "oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "object"}]
    },
}

VALIDATION_ERROR = OpenApiResponse(
    FIELD_ERRORS_SCHEMA,
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
TOO_MANY_SIGN_INS = OpenApiResponse(
    DetailSerializer,
    description="Too many failed sign-ins for this username or address: wait Retry-After "
    "seconds (the right password is refused too until then).",
)

ERROR_RESPONSES = {401: UNAUTHORIZED}

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"\S"},
    OpenApiParameter.HEADER,
    required=False,
    description="Up to 255 characters. Repeating a request with the same key and body within "
    "24 hours returns the first answer (with `Idempotent-Replayed: true`) and changes nothing.",
)
IDEMPOTENCY_RESPONSES = {
    409: OpenApiResponse(
        DetailSerializer, description="The first request with this Idempotency-Key still runs."
    ),
    422: OpenApiResponse(
        DetailSerializer, description="This Idempotency-Key was used with another request."
    ),
}


# --- every answer, documented -------------------------------------------------------------

DETAIL_REF = {"$ref": "#/components/schemas/ErrorDetail"}
FIELD_ERRORS_REF = {"$ref": "#/components/schemas/FieldErrors"}
# Needs no credentials (the token routes answer 401 to bad ones, so they are not here).
PUBLIC = re.compile(r"^/api/schema/$")
# Take no role: an account without one may use them (SPEC 8.1).
ROLELESS = re.compile(r"^/api/auth/")
BAD_REQUEST_SCHEMA = {"anyOf": [FIELD_ERRORS_REF, DETAIL_REF]}
GENERIC = {
    "400": ("Bad input: field messages, or a body that is not JSON.", BAD_REQUEST_SCHEMA),
    "405": ("This route does not take that method (see Allow).", DETAIL_REF),
    "401": ("No valid credentials.", DETAIL_REF),
    "403": ("The account's role does not allow this (viewer, operator, admin).", DETAIL_REF),
    "404": ("No such object, or no such page.", DETAIL_REF),
    "413": ("The body is larger than this route allows.", DETAIL_REF),
    "415": ("The body is not in a content type this route takes.", DETAIL_REF),
    "503": ("The database is unavailable for a moment (see Retry-After).", DETAIL_REF),
}


def _json(description: str, schema: Any) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _answers(path: str, operation: dict[str, Any]) -> list[str]:
    params = operation.get("parameters", [])
    # Any path: a page past the end or a gone object, another route's method, a lost database.
    codes = ["404", "405", "503"]
    if not PUBLIC.match(path):
        codes.append("401")
    if not ROLELESS.match(path):
        codes.append("403")
    if "requestBody" in operation:
        codes += ["400", "413", "415"]
    elif any(p.get("in") == "query" for p in params):
        codes.append("400")
    return codes


def enum_member_names(values: list[str]) -> list[str]:
    """Names for a generated client's enum members that stay apart ("GMT+0", "GMT-0" and
    "GMT0" would all read GMT0 in openapi-python-client)."""
    names: list[str] = []
    for value in values:
        name = re.sub(r"\+(?=\d)", "PLUS", re.sub(r"-(?=\d)", "MINUS", value))
        name = re.sub(r"[^0-9A-Za-z]+", "_", name).strip("_").upper() or "EMPTY"
        if not name[0].isalpha():
            name = f"V_{name}"
        names.append(name if name not in names else f"{name}_{len(names)}")
    return names


def document_every_answer(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: each ``/api/`` operation documents the errors
    it can answer (all JSON), and its success answer's content type."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["FieldErrors"] = FIELD_ERRORS_SCHEMA
    schemas.setdefault(
        "ErrorDetail",
        {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]},
    )
    for component in schemas.values():
        values = component.get("enum")
        if values and all(isinstance(v, str) for v in values):
            component.setdefault("x-enum-varnames", enum_member_names(values))
    for path, operations in result.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for code in _answers(path, operation):
                if code not in responses:
                    responses[code] = _json(*GENERIC[code])
            for code, response in responses.items():
                for media in response.get("content", {}).values():
                    if code == "400":
                        media["schema"] = BAD_REQUEST_SCHEMA
    return result
