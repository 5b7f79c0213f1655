"""Input rules for every route (SPEC 8.1): nesting, NUL, unpaired surrogates, how much of a
refused value a message quotes, time zones that are not places, bounded import answers."""

from __future__ import annotations

import io
import json

import pytest
from rest_framework.test import APIClient

from clients.models import Client

pytestmark = pytest.mark.django_db


def raw_json(api: APIClient, path: str, text: str) -> object:
    return api.generic("POST", path, text, content_type="application/json")


@pytest.mark.parametrize("path", ["/api/clients/", "/api/auth/token/", "/api/mailings/preview/"])
def test_deeply_nested_json_is_a_400_not_a_500(api: APIClient, path: str) -> None:
    for depth in (33, 1000, 100_000):
        answer = raw_json(api, path, "[" * depth + "]" * depth)
        assert answer.status_code == 400, (path, depth, answer.status_code)  # type: ignore[attr-defined]
    fine = raw_json(api, path, json.dumps({"a": [[[[1]]]]}))
    assert fine.status_code != 500  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "tag",
    ['"bad\\u0000tag"', '"\\ud800"', '"ok\\udfffx"'],
    ids=["nul", "lone-high-surrogate", "lone-low-surrogate"],
)
def test_nul_and_lone_surrogates_are_a_400_in_any_field(api: APIClient, tag: str) -> None:
    answer = raw_json(api, "/api/clients/", f'{{"phone": "79001234567", "tag": {tag}}}')
    assert answer.status_code == 400  # type: ignore[attr-defined]
    assert not Client.objects.exists()


def test_an_import_rejects_the_row_with_a_nul_or_surrogate_and_keeps_the_others(
    api: APIClient,
) -> None:
    body = (
        '{"clients": [{"phone": "79000000001", "tag": "ok"},'
        ' {"phone": "79000000002", "tag": "bad\\u0000"},'
        ' {"phone": "79000000003", "tag": "\\ud800"}]}'
    )
    answer = raw_json(api, "/api/clients/import/", body)
    assert answer.status_code == 200, answer.content  # type: ignore[attr-defined]
    result = answer.json()  # type: ignore[attr-defined]
    assert (result["created"], result["rejected_count"]) == (1, 2)
    assert [row["line"] for row in result["rejected"]] == [2, 3]
    csv_body = io.BytesIO(b"phone,tag\n79000000004,fine\n79000000005,with\x00nul\n")
    csv_body.name = "c.csv"
    answer = api.post("/api/clients/import/", {"file": csv_body}, format="multipart")
    assert answer.status_code == 200
    assert answer.json()["rejected_count"] == 1
    assert Client.objects.filter(phone="79000000004").exists()


def test_an_import_lists_at_most_a_thousand_rejected_rows(api: APIClient) -> None:
    lines = "phone\n" + "".join(f"bad-{n}\n" for n in range(2500)) + "79000000001\n"
    upload = io.BytesIO(lines.encode())
    upload.name = "c.csv"
    answer = api.post("/api/clients/import/", {"file": upload}, format="multipart")
    result = answer.json()
    assert (result["created"], result["rejected_count"]) == (1, 2500)
    assert len(result["rejected"]) == 1000
    assert result["rejected"][0]["line"] == 2


def test_a_message_quotes_at_most_a_hundred_characters_of_the_value(api: APIClient) -> None:
    huge = "Q" * 1_000_000
    answer = api.post("/api/clients/", {"phone": "79001234567", "timezone": huge}, format="json")
    assert answer.status_code == 400
    assert len(answer.content) < 1000
    assert "Q" * 100 in answer.content.decode() and "Q" * 101 not in answer.content.decode()
    kind = api.post("/api/mailings/preview/", {"text": "x", "kind": huge}, format="json")
    assert kind.status_code == 400 and len(kind.content) < 1000


@pytest.mark.parametrize("zone", ["localtime", "Factory"])
def test_zones_that_are_not_places_are_refused(api: APIClient, zone: str) -> None:
    answer = api.post("/api/clients/", {"phone": "79001234567", "timezone": zone}, format="json")
    assert answer.status_code == 400
    assert "timezone" in answer.json()
