"""Every /api/ answer is JSON (SPEC 8.6), bodies are bounded (SPEC 8.1)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.test import Client as Browser
from rest_framework.test import APIClient

from clients.models import Client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    [
        "/api/mailings/null,null/message_statistics/",  # was a 500 (a ValueError in the ORM)
        "/api/mailings/0.5/",  # was Django's HTML 404
        "/api/clients/abc/",
        "/api/nothing-here/",
        "/api/mailings/999999/",
    ],
)
def test_a_malformed_or_unknown_id_is_a_json_404(api: APIClient, path: str) -> None:
    answer = api.get(path)

    assert answer.status_code == 404
    assert answer["Content-Type"] == "application/json"
    assert "detail" in answer.json()


def test_a_method_the_route_does_not_take_is_a_json_405_with_allow(api: APIClient) -> None:
    answer = api.put("/api/mailings/statistics/", {}, format="json")

    assert answer.status_code == 405
    assert answer["Content-Type"] == "application/json"
    assert "GET" in answer["Allow"]


def test_json_routes_take_json_only(api: APIClient) -> None:
    form = api.post("/api/clients/", {"phone": "79001112233"})  # multipart, as a browser form

    assert form.status_code == 415
    assert answer_is_json(form)


def test_the_import_route_also_takes_multipart(api: APIClient) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    csv = SimpleUploadedFile("c.csv", b"phone,operator_code,tag,timezone\n79001112233,,,\n")
    answer = api.post("/api/clients/import/", {"file": csv})

    assert answer.status_code == 200, answer.content
    assert answer.json()["created"] == 1


@pytest.mark.parametrize(
    ("path", "limit_setting"),
    [("/api/auth/token/", "MAX_REQUEST_BYTES"), ("/api/clients/import/", "MAX_IMPORT_BYTES")],
)
def test_a_body_over_the_routes_limit_is_a_413_answered_without_reading_it(
    client: Browser, settings: Any, path: str, limit_setting: str
) -> None:
    setattr(settings, limit_setting, 1000)

    answer = client.generic(
        "POST", path, b"x" * 1001, content_type="application/json", HTTP_CONTENT_LENGTH="1001"
    )

    assert answer.status_code == 413
    assert answer_is_json(answer)
    assert "1,000 bytes" in answer.json()["detail"]


def test_a_whole_body_error_has_the_field_errors_shape(api: APIClient) -> None:
    answer = api.post("/api/clients/import/", "[1, 2", content_type="application/json")

    assert answer.status_code == 400
    assert isinstance(answer.json(), dict)


def answer_is_json(answer: Any) -> bool:
    return bool(answer["Content-Type"] == "application/json" and "detail" in answer.json())


@pytest.mark.parametrize(
    ("path", "limit_setting"),
    [
        ("/api/clients/import/", "MAX_IMPORT_BYTES"),
        ("/api/stoplist/import/", "MAX_IMPORT_BYTES"),
        ("/admin/clients/client/import/", "MAX_IMPORT_BYTES"),
        ("/api/clients/", "MAX_REQUEST_BYTES"),
        ("/admin/login/", "MAX_REQUEST_BYTES"),
    ],
)
def test_a_multipart_upload_over_the_limit_is_a_413_too(
    client: Browser, settings: Any, path: str, limit_setting: str
) -> None:
    from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

    setattr(settings, limit_setting, 10_000)
    upload = io.BytesIO(b"phone\n" + b"79001112233\n" * 2000)
    upload.name = "big.csv"
    body = encode_multipart(BOUNDARY, {"file": upload})
    answer = client.generic("POST", path, body, content_type=MULTIPART_CONTENT)
    assert answer.status_code == 413
    assert not Client.objects.exists()
