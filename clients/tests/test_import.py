from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from clients.models import Client
from clients.tests.factories import ClientFactory

pytestmark = pytest.mark.django_db

URL = "/api/clients/import/"


def upload(api: APIClient, text: str) -> Any:
    file = io.BytesIO(text.encode())
    file.name = "clients.csv"
    return api.post(URL, {"file": file}, format="multipart")


def test_csv_creates_valid_rows_and_reports_each_rejected_line(api: APIClient) -> None:
    csv = (
        "phone,operator_code,tag,timezone\n"
        "+7 900 111-11-11,,vip,Europe/Moscow\n"  # line 2: ok, code derived
        "89002222222,,,\n"  # line 3: bad phone
        "79003333333,916,,\n"  # line 4: ok, explicit code, defaults
        "79004444444,1,,Mars/Base\n"  # line 5: two bad fields
    )

    response = upload(api, csv)

    assert response.status_code == 200, response.data
    assert response.data["created"] == 2
    assert response.data["updated"] == 0
    rejected = {row["line"]: row["errors"] for row in response.data["rejected"]}
    assert set(rejected) == {3, 5}
    assert set(rejected[3]) == {"phone"}
    assert set(rejected[5]) == {"operator_code", "timezone"}
    first = Client.objects.get(phone="79001111111")
    assert (first.operator_code, first.tag, first.timezone) == ("900", "vip", "Europe/Moscow")
    second = Client.objects.get(phone="79003333333")
    assert (second.operator_code, second.tag, second.timezone) == ("916", "", "UTC")


def test_existing_phones_are_updated_and_empty_cells_keep_current_values(api: APIClient) -> None:
    ClientFactory.create(phone="79001111111", operator_code="916", tag="old", timezone="Asia/Tokyo")

    response = upload(api, "phone,tag,timezone\n79001111111,new,\n")

    assert response.data == {"created": 0, "updated": 1, "rejected": [], "rejected_count": 0}
    client = Client.objects.get(phone="79001111111")
    assert (client.operator_code, client.tag, client.timezone) == ("916", "new", "Asia/Tokyo")


def test_a_phone_repeated_in_the_file_is_rejected_with_the_first_line(api: APIClient) -> None:
    response = upload(api, "phone,tag\n79001111111,a\n+7 900 111 11 11,b\n")

    assert response.data["created"] == 1
    assert response.data["rejected"] == [{"line": 3, "errors": {"phone": ["Duplicate of line 2."]}}]
    assert Client.objects.get().tag == "a"


def test_rows_with_a_wrong_number_of_cells_are_rejected(api: APIClient) -> None:
    response = upload(api, "phone,tag\n79001111111,a,extra\n\n79002222222,b\n")

    assert response.data["created"] == 1
    assert response.data["rejected"][0]["line"] == 2


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"number,tag\n79001111111,a\n",
        b"phone,phone\n79001111111,79001111111\n",
        b"phone,tag\n79001111111,\xff\xfe\n",
    ],
    ids=["empty", "no-phone-column", "repeated-column", "not-utf8"],
)
def test_unreadable_files_are_a_400_and_write_nothing(api: APIClient, content: bytes) -> None:
    file = io.BytesIO(content)
    file.name = "clients.csv"

    response = api.post(URL, {"file": file}, format="multipart")

    assert response.status_code == 400
    assert "file" in response.data
    assert Client.objects.count() == 0


def test_not_utf8_late_in_a_large_file_rolls_back_earlier_rows(api: APIClient) -> None:
    rows = "".join(f"7900{n:07d},t\n" for n in range(12_000)).encode()
    file = io.BytesIO(b"phone,tag\n" + rows + b"79009999999,\xff\n")
    file.name = "clients.csv"

    response = api.post(URL, {"file": file}, format="multipart")

    assert response.status_code == 400
    assert Client.objects.count() == 0


def test_json_array_is_imported_with_positions_as_lines(api: APIClient) -> None:
    ClientFactory.create(phone="79001111111", tag="old")
    payload = [
        {"phone": 79001111111, "tag": "vip"},
        {"phone": "79002222222", "operator_code": None, "timezone": "Europe/Moscow"},
        {"phone": "bad"},
        "not an object",
        {"phone": "79003333333", "colour": "red"},
    ]

    response = api.post(URL, json.dumps(payload), content_type="application/json")

    assert response.status_code == 200
    assert (response.data["created"], response.data["updated"]) == (1, 1)
    assert [row["line"] for row in response.data["rejected"]] == [3, 4, 5]
    assert Client.objects.get(phone="79001111111").tag == "vip"
    assert Client.objects.get(phone="79002222222").timezone == "Europe/Moscow"


def test_a_json_object_instead_of_an_array_is_a_400(api: APIClient) -> None:
    response = api.post(URL, {"phone": "79001111111"}, format="json")

    assert response.status_code == 400
    assert Client.objects.count() == 0


def test_import_of_many_rows_counts_them_all(api: APIClient) -> None:
    ClientFactory.create(phone="79000000005", tag="keep")
    rows = "".join(f"7900{n:07d},,t{n % 3},\n" for n in range(20_000))

    response = upload(api, "phone,operator_code,tag,timezone\n" + rows)

    assert response.data["created"] == 19_999
    assert response.data["updated"] == 1
    assert Client.objects.count() == 20_000
    assert Client.objects.get(phone="79000000005").tag == "t2"


def test_json_import_takes_an_object_with_the_clients_too(api: Any) -> None:
    body = {"clients": [{"phone": "79001112233"}, {"phone": "8900"}]}

    answer = api.post("/api/clients/import/", body, format="json")

    assert answer.status_code == 200
    assert answer.json()["created"] == 1
    assert [row["line"] for row in answer.json()["rejected"]] == [2]


def test_a_rejected_rows_line_is_where_it_starts_even_after_a_multiline_cell(
    api: APIClient,
) -> None:
    import io

    csv_text = (
        "phone,tag\n"  # line 1
        '79000000001,"two\nlines"\n'  # lines 2-3: a quoted cell with a line break
        "bad-phone,x\n"  # line 4
        '"bad\nphone",y\n'  # lines 5-6
        "\n"  # line 7: blank
        "also-bad,z\n"  # line 8
    )
    upload = io.BytesIO(csv_text.encode())
    upload.name = "c.csv"
    answer = api.post("/api/clients/import/", {"file": upload}, format="multipart")
    assert answer.status_code == 200
    assert [row["line"] for row in answer.json()["rejected"]] == [4, 5, 8]


def _planner_rows() -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'clients_client'")
        return float(cursor.fetchone()[0])


@pytest.mark.parametrize(("rows", "analyzed"), [(3, True), (2, False)])
def test_a_large_import_refreshes_the_planner_statistics(
    api: APIClient, monkeypatch: pytest.MonkeyPatch, on_commit: Any, rows: int, analyzed: bool
) -> None:
    """PostgreSQL: once an import of ``ANALYZE_AFTER_ROWS`` or more commits, the planner's
    row count for the clients table is the new one (a launch right after plans for it)."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's planner statistics")
    from clients import importing

    monkeypatch.setattr(importing, "ANALYZE_AFTER_ROWS", 3)
    before = _planner_rows()
    body = [{"phone": f"7900555000{i}"} for i in range(rows)]

    with on_commit(execute=True):
        response = api.post("/api/clients/import/", body, format="json")

    assert response.status_code == 200
    assert (_planner_rows() == rows) is analyzed
    if not analyzed:
        assert _planner_rows() == before
