"""Losing the database: recognise it, say so once, and carry on.

``is_unavailable(exc)`` tells a lost connection from any other error. ``OutageLog`` keeps a
process's log to one warning when the database goes and one line when it is back, instead
of a traceback per request or per tick. ``DatabaseUnavailableMiddleware`` answers every
``/api/`` request 503 with ``Retry-After`` while the database is gone (SPEC 8.2).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger("database")

RETRY_AFTER_SECONDS = 5
UNAVAILABLE = "The database is unavailable for a moment; retry after a few seconds."


def is_unavailable(exc: BaseException) -> bool:
    """A lost or refused connection (not a constraint, a lock timeout or bad SQL)."""
    if isinstance(exc, InterfaceError):
        return True
    # SQLite is an embedded file: "database is locked" is contention, not an outage.
    return isinstance(exc, OperationalError) and connection.vendor != "sqlite"


class OutageLog:
    """One warning per outage and one line when it ends, per process and ``what``."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._down_since: float | None = None
        self._lock = threading.Lock()

    def down(self, exc: BaseException) -> None:
        with self._lock:
            if self._down_since is not None:
                return
            self._down_since = time.monotonic()
        logger.warning(
            "%s: the database is unavailable (%s); retrying", self.what, type(exc).__name__
        )

    def up(self) -> None:
        with self._lock:
            if self._down_since is None:
                return
            seconds, self._down_since = time.monotonic() - self._down_since, None
        logger.warning("%s: the database is back after %.0f s", self.what, seconds)

    @property
    def is_down(self) -> bool:
        return self._down_since is not None


def close_broken_connection() -> None:
    """Drop this thread's connection after an outage so that the next query reconnects."""
    try:
        connection.close()
    except DatabaseError:
        connection.connection = None


_API = OutageLog("api")


class DatabaseUnavailableMiddleware:
    """``/api/`` answers 503 ``{"detail"}`` with ``Retry-After`` while the database is gone,
    logged once per outage, never as a traceback per request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if _API.is_down and request.path.startswith("/api/") and response.status_code < 500:
            _API.up()
        return response

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if not (request.path.startswith("/api/") and is_unavailable(exc)):
            return None
        _API.down(exc)
        # Django drops the broken connection when the request ends (errors_occurred).
        response = JsonResponse({"detail": UNAVAILABLE}, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        response._has_been_logged = True  # type: ignore[attr-defined]  # no per-request error
        return response
