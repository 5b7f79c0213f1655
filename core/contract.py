"""What every ``/api/`` answer keeps to, whatever went wrong (SPEC 8.6 and 8.1):

- ``ApiJsonErrorsMiddleware``: an error answer that is not JSON (Django's HTML 404 for a
  path no route matches, a 400 for a malformed request, a 405 or 500 page) becomes
  ``{"detail": …}`` with the same status and headers.
- ``BodyLimitMiddleware``: a body larger than the route allows (``MAX_REQUEST_BYTES``, the
  import routes ``MAX_IMPORT_BYTES``) is a 413 ``{"detail"}``, answered from its
  ``Content-Length`` without reading it, signed in or not.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

IMPORT_PATH_SUFFIX = "/import/"


def json_error(status: int, detail: str | None = None) -> JsonResponse:
    if detail is None:
        try:
            detail = HTTPStatus(status).phrase + "."
        except ValueError:
            detail = "Error."
    return JsonResponse({"detail": detail}, status=status)


class ApiJsonErrorsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            request.path.startswith("/api/")
            and response.status_code >= 400
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            replacement = json_error(response.status_code)
            for header in ("Allow", "Retry-After", "WWW-Authenticate"):
                if header in response:
                    replacement[header] = response[header]
            return replacement
        return response


def body_limit(path: str) -> int:
    """The import routes (the API's and the admin's CSV pages) take ``MAX_IMPORT_BYTES``;
    every other route, signed in or not, ``MAX_REQUEST_BYTES``."""
    if path.rstrip("/").endswith(IMPORT_PATH_SUFFIX.rstrip("/")):
        return int(settings.MAX_IMPORT_BYTES)
    return int(settings.MAX_REQUEST_BYTES)


class BodyLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return json_error(400, "Content-Length is not a number.")
        limit = body_limit(request.path)
        if length > limit:
            response = json_error(413, f"The body is larger than {limit:,} bytes.")
            response["Connection"] = "close"  # the unread body must not be taken for a request
            return response
        return self.get_response(request)
