"""One structured log line per API request, carrying the ids of what it touched."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

logger = logging.getLogger("api")

# Route basename -> the log key its {pk} is: /api/clients/7/ is about client 7.
ID_KEYS = {"client": "client_id", "mailing": "mailing_id"}


class RequestLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        if not request.path.startswith("/api/"):
            return response
        extra: dict[str, object] = {
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        }
        match = request.resolver_match
        if match is not None and match.url_name:
            basename = match.url_name.split("-", 1)[0]
            pk = match.kwargs.get("pk")
            if basename in ID_KEYS and pk is not None and str(pk).isdigit():
                extra[ID_KEYS[basename]] = int(pk)
        created = getattr(response, "data", None)
        if request.method == "POST" and response.status_code == 201 and isinstance(created, dict):
            basename = match.url_name.split("-", 1)[0] if match and match.url_name else ""
            if basename in ID_KEYS and "id" in created:
                extra[ID_KEYS[basename]] = created["id"]
        logger.info("%s %s %s", request.method, request.path, response.status_code, extra=extra)
        return response
