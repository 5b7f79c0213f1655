"""Service endpoints: the API root, liveness, readiness and metrics."""

from __future__ import annotations

import hmac
import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from core.health import readiness
from core.metrics import render_metrics

logger = logging.getLogger(__name__)


class ApiRootView(APIView):
    """Lists the API's resources."""

    @extend_schema(
        responses=inline_serializer(
            "ApiRoot",
            {
                "clients": serializers.URLField(),
                "clients_import": serializers.URLField(),
                "mailings": serializers.URLField(),
                "mailings_preview": serializers.URLField(),
                "statistics": serializers.URLField(),
                "stoplist": serializers.URLField(),
                "stoplist_import": serializers.URLField(),
                "schema": serializers.URLField(),
                "docs": serializers.URLField(),
            },
        )
    )
    def get(self, request: Request) -> Response:
        def url(name: str) -> str:
            # Routes take an optional trailing slash; links show the canonical form.
            link = reverse(name, request=request)
            return link if link.endswith("/") else f"{link}/"

        return Response(
            {
                "clients": url("client-list"),
                "clients_import": url("client-import"),
                "mailings_preview": url("mailing-preview"),
                "stoplist": url("stoplist-list"),
                "stoplist_import": url("stoplist-import"),
                "mailings": url("mailing-list"),
                "statistics": url("mailing-statistics"),
                "schema": url("schema"),
                "docs": url("docs"),
            }
        )


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers."""
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: 200 when the database and the broker answer, 503 otherwise."""
    checks = readiness()
    failed = {name: error for name, error in checks.items() if error}
    for name, error in failed.items():
        logger.warning("readiness check failed: %s: %s", name, error)
    # Details stay in the log: an error text may name hosts the public should not see.
    body = {
        "status": "unavailable" if failed else "ok",
        "checks": {name: ("unavailable" if error else "ok") for name, error in checks.items()},
    }
    return JsonResponse(body, status=503 if failed else 200)


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus' page; with ``METRICS_TOKEN`` set, only for ``Bearer <METRICS_TOKEN>``."""
    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            answer = HttpResponse("metrics need the METRICS_TOKEN\n", status=401)
            answer["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return answer
    payload, content_type = render_metrics()
    return HttpResponse(payload, content_type=content_type)
