"""Domain errors and the one place that maps them to HTTP answers.

Services raise these; views never catch them. ``Conflict`` is a request that is valid but
clashes with the current state (409); ``InvalidInput`` is bad input found by a service
rather than a serializer (400, same shape as a serializer's field errors).
"""

from __future__ import annotations

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
    return response
