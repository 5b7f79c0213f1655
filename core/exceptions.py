"""Domain errors and the one place that maps them to HTTP answers.

Services raise these; views never catch them. ``Conflict`` is a request that is valid but
clashes with the current state (409); ``InvalidInput`` is bad input found by a service
rather than a serializer (400, same shape as a serializer's field errors).
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class DomainError(Exception):
    """Base of the errors services raise on purpose."""


class Conflict(DomainError):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(DomainError):
    def __init__(self, errors: dict[str, list[str]] | str) -> None:
        super().__init__(str(errors))
        self.errors = errors


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, Conflict):
        return Response({"detail": exc.detail}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, InvalidInput):
        exc = ValidationError(exc.errors)
    elif isinstance(exc, DjangoValidationError):
        exc = ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, list):
        # One error shape: a message list from a whole-body error goes under non_field_errors.
        response.data = {"non_field_errors": response.data}
    if response is not None:
        response.data = shortened(response.data)
    return response


QUOTE_LIMIT = 100
MESSAGE_LIMIT = 300
# A quoted value in a message ("…" or '…'), longer than QUOTE_LIMIT.
_LONG_QUOTE = re.compile(rf"([\"'])([^\"']{{{QUOTE_LIMIT}}})[^\"']+\1")


def shortened(data: Any) -> Any:
    """Messages quote at most 100 characters of a refused value (SPEC 8.1): a 10 MB bad value
    is not echoed back whole; keys (field names, positions) are kept as they are."""
    if isinstance(data, dict):
        return {key: shortened(value) for key, value in data.items()}
    if isinstance(data, list):
        return [shortened(item) for item in data]
    if isinstance(data, str) and len(data) > QUOTE_LIMIT:
        text = _LONG_QUOTE.sub(lambda m: f"{m.group(1)}{m.group(2)}…{m.group(1)}", data)
        return text if len(text) <= MESSAGE_LIMIT else text[:MESSAGE_LIMIT] + "…"
    return data
