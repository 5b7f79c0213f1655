from __future__ import annotations

import io

import pytest
from rest_framework.test import APIClient

from stoplist.models import StopListEntry

pytestmark = pytest.mark.django_db

URL = "/api/stoplist/"


def test_listing_a_number_answers_201_then_200_with_the_same_entry(api: APIClient) -> None:
    first = api.post(URL, {"phone": "+7 (900) 123-45-67", "reason": "replied STOP"}, format="json")
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["phone"] == "79001234567"
    assert body["reason"] == "replied STOP"
    assert body["source"] == "api"
    assert body["created_by"] == "operator"
    again = api.post(URL, {"phone": "79001234567", "reason": "other"}, format="json")
    assert again.status_code == 200
    assert again.json()["reason"] == "replied STOP"  # unchanged
    assert StopListEntry.objects.count() == 1


def test_read_and_delete_by_number_written_any_way(api: APIClient) -> None:
    api.post(URL, {"phone": "79001234567"}, format="json")
    assert api.get(f"{URL}+7-900-123-45-67/").status_code == 200
    assert api.get(f"{URL}79001234568/").status_code == 404
    assert api.get(f"{URL}not-a-phone/").status_code == 404
    assert api.delete(f"{URL}79001234567/").status_code == 204
    assert api.get(f"{URL}79001234567/").status_code == 404
    assert api.delete(f"{URL}79001234567/").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"phone": "123"},
        {"phone": "7900123456\u0667"},  # an Arabic-Indic seven
        {"reason": "x"},
        {"phone": "79001234567", "reason": "r" * 501},
    ],
)
def test_bad_input_is_a_400_and_lists_nothing(api: APIClient, body: dict) -> None:
    answer = api.post(URL, body, format="json")
    assert answer.status_code == 400
    assert StopListEntry.objects.count() == 0


def test_import_csv_creates_updates_and_reports_rejected_lines(api: APIClient) -> None:
    api.post(URL, {"phone": "79001234567", "reason": "old"}, format="json")
    csv_text = (
        "phone,reason\n"
        "79001234567,new reason\n"  # listed: reason updated
        "+7 900 000-00-01,\n"  # new
        "12345,bad\n"  # rejected
        "79000000001,again\n"  # duplicate of line 3
    )
    upload = io.BytesIO(csv_text.encode())
    upload.name = "stop.csv"
    answer = api.post(f"{URL}import/", {"file": upload}, format="multipart")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["created"], body["updated"]) == (1, 1)
    assert [row["line"] for row in body["rejected"]] == [4, 5]
    assert "Duplicate of line 3" in body["rejected"][1]["errors"]["phone"][0]
    assert StopListEntry.objects.get(phone="79001234567").reason == "new reason"
    assert StopListEntry.objects.get(phone="79000000001").source == "import"


def test_import_json_and_a_bad_header(api: APIClient) -> None:
    answer = api.post(
        f"{URL}import/", {"entries": [{"phone": "79000000002", "reason": "x"}]}, format="json"
    )
    assert answer.status_code == 200
    assert answer.json()["created"] == 1
    upload = io.BytesIO(b"number,why\n79000000003,x\n")
    upload.name = "stop.csv"
    bad = api.post(f"{URL}import/", {"file": upload}, format="multipart")
    assert bad.status_code == 400
    assert not StopListEntry.objects.filter(phone="79000000003").exists()


def test_unauthenticated_is_refused(anon: APIClient) -> None:
    assert anon.get(URL).status_code == 401
    assert anon.post(URL, {"phone": "79001234567"}, format="json").status_code == 401


def test_the_list_is_paginated_newest_first(api: APIClient) -> None:
    for n in range(3):
        api.post(URL, {"phone": f"7900000000{n}"}, format="json")
    body = api.get(URL).json()
    assert body["count"] == 3
    assert [row["phone"] for row in body["results"]] == [
        "79000000002",
        "79000000001",
        "79000000000",
    ]
