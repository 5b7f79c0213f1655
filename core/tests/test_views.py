from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken


def test_healthz_is_public(anon: APIClient) -> None:
    response = anon.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_checks_the_real_database_and_broker(anon: APIClient) -> None:
    response = anon.get("/readyz")

    assert response.status_code == 200, response.content
    assert response.json()["checks"] == {"database": "ok", "broker": "ok"}


@pytest.mark.django_db
def test_readyz_is_503_when_the_broker_does_not_answer(anon: APIClient, settings: Any) -> None:
    # Port 1 on loopback: nothing listens there, so the connection is refused.
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"

    response = anon.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == "unavailable"
    assert response.json()["checks"]["database"] == "ok"


@pytest.mark.django_db
def test_metrics_expose_request_counts_by_view(api: APIClient, anon: APIClient) -> None:
    api.get("/api/clients/")

    body = anon.get("/metrics").content.decode()

    assert "# TYPE mailing_http_requests_total counter" in body
    assert 'mailing_http_requests_total{method="GET",status="200",view="client-list"}' in body
    assert "mailing_http_request_duration_seconds_bucket" in body


@pytest.mark.django_db
def test_metrics_count_messages_by_status_and_the_stop_list(anon: APIClient) -> None:
    from mailings.models import MessageStatus
    from mailings.tests.factories import MessageFactory
    from stoplist.models import StopListEntry

    MessageFactory.create(status=MessageStatus.SUPPRESSED, last_error="stop list")
    MessageFactory.create(status=MessageStatus.SENT)
    StopListEntry.objects.create(phone="79000000001")

    body = anon.get("/metrics").content.decode()

    assert 'mailing_messages{status="suppressed"} 1.0' in body
    assert 'mailing_messages{status="sent"} 1.0' in body
    assert "mailing_stoplist_entries 1.0" in body


@pytest.mark.django_db
def test_api_root_lists_the_resources(api: APIClient) -> None:
    body = api.get("/api/").data

    assert body["clients"].endswith("/api/clients/")
    assert body["mailings"].endswith("/api/mailings/")
    assert body["statistics"].endswith("/api/mailings/statistics/")
    assert body["stoplist"].endswith("/api/stoplist/")
    assert body["mailings_preview"].endswith("/api/mailings/preview/")


@pytest.mark.django_db
def test_api_root_needs_a_token(anon: APIClient) -> None:
    assert anon.get("/api/").status_code == 401


# --- authentication -----------------------------------------------------------------------


@pytest.mark.django_db
def test_token_pair_from_username_and_password_then_refresh(anon: APIClient, user: Any) -> None:
    pair = anon.post(
        "/api/auth/token/", {"username": "operator", "password": "s3cret-pass"}, format="json"
    )
    assert pair.status_code == 200
    assert set(pair.data) == {"access", "refresh"}

    refreshed = anon.post(
        "/api/auth/token/refresh/", {"refresh": pair.data["refresh"]}, format="json"
    )
    assert refreshed.status_code == 200
    anon.credentials(HTTP_AUTHORIZATION=f"Bearer {refreshed.data['access']}")
    assert anon.get("/api/clients/").status_code == 200


@pytest.mark.django_db
def test_wrong_password_is_a_401(anon: APIClient, user: Any) -> None:
    response = anon.post(
        "/api/auth/token/", {"username": "operator", "password": "wrong"}, format="json"
    )

    assert response.status_code == 401


@pytest.mark.django_db
def test_token_request_without_fields_is_a_400(anon: APIClient) -> None:
    response = anon.post("/api/auth/token/", {}, format="json")

    assert response.status_code == 400
    assert set(response.data) == {"username", "password"}


@pytest.mark.django_db
def test_bad_expired_and_refresh_tokens_do_not_authenticate(anon: APIClient, user: Any) -> None:
    expired = AccessToken.for_user(user)
    expired.set_exp(lifetime=-timedelta(seconds=1))
    pair = anon.post(
        "/api/auth/token/", {"username": "operator", "password": "s3cret-pass"}, format="json"
    ).data

    for header in (
        "Bearer not-a-token",
        f"Bearer {expired}",
        f"Bearer {pair['refresh']}",  # a refresh token is not an access token
        f"Token {pair['access']}",
    ):
        anon.credentials(HTTP_AUTHORIZATION=header)
        assert anon.get("/api/clients/").status_code == 401, header


def test_access_tokens_live_15_minutes_and_refresh_tokens_a_day_by_default() -> None:
    from django.conf import settings

    assert settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"] == timedelta(minutes=15)
    assert settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"] == timedelta(days=1)


# --- documentation ------------------------------------------------------------------------


@pytest.mark.django_db
def test_schema_is_public_and_documents_every_endpoint(anon: APIClient) -> None:
    response = anon.get("/api/schema/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    schema = response.json()
    expected = {
        "/api/": {"get"},
        "/api/auth/token/": {"post"},
        "/api/auth/token/refresh/": {"post"},
        "/api/clients/": {"get", "post"},
        "/api/clients/{id}/": {"get", "put", "patch", "delete"},
        "/api/clients/import/": {"post"},
        "/api/mailings/": {"get", "post"},
        "/api/mailings/{id}/": {"get", "put", "patch", "delete"},
        "/api/mailings/{id}/start_mailing/": {"post"},
        "/api/mailings/{id}/cancel_mailing/": {"post"},
        "/api/mailings/{id}/retry_failed/": {"post"},
        "/api/mailings/statistics/": {"get"},
        "/api/mailings/{id}/message_statistics/": {"get"},
    }
    for path, methods in expected.items():
        assert path in schema["paths"], path
        assert methods <= set(schema["paths"][path]), path
    assert "jwtAuth" in schema["components"]["securitySchemes"]
    create = schema["paths"]["/api/mailings/"]["post"]
    assert {"201", "400", "401"} <= set(create["responses"])
    action = schema["paths"]["/api/mailings/{id}/start_mailing/"]["post"]
    assert {"200", "404", "409"} <= set(action["responses"])


def test_swagger_ui_is_served_without_internet(anon: APIClient) -> None:
    response = anon.get("/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn.jsdelivr.net" not in html
    assert "/api/schema/" in html


@pytest.mark.django_db
def test_check_ready_command_passes_with_the_real_services_and_fails_without_a_broker(
    settings: Any,
) -> None:
    from django.core.management import CommandError, call_command

    call_command("check_ready")
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    with pytest.raises(CommandError, match="broker"):
        call_command("check_ready")


@pytest.mark.django_db
def test_random_methods_do_not_grow_the_metrics(anon: APIClient) -> None:
    import random
    import string

    from django.test import Client as Browser

    browser = Browser()
    before = len(anon.get("/metrics").content.decode().splitlines())
    rng = random.Random(7)
    for _ in range(300):
        method = "".join(rng.choices(string.ascii_uppercase, k=8))
        browser.generic(method, "/api/clients/")
    after = anon.get("/metrics").content.decode()
    print(f"/metrics: {before} lines before, {len(after.splitlines())} after 300 random methods")
    assert 'method="other"' in after
    assert len(after.splitlines()) - before < 40  # one "other" series, not 300


@pytest.mark.django_db
def test_the_metrics_token_guards_the_page(anon: APIClient, settings: Any) -> None:
    settings.METRICS_TOKEN = "scrape-" + "k" * 20
    assert anon.get("/metrics").status_code == 401
    assert anon.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    ok = anon.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {settings.METRICS_TOKEN}")
    assert ok.status_code == 200
