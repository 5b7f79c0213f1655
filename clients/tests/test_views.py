from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from clients.models import Client
from clients.services import DUPLICATE_PHONE
from clients.tests.factories import ClientFactory
from mailings.models import MessageStatus
from mailings.tests.factories import MessageFactory

pytestmark = pytest.mark.django_db

URL = "/api/clients/"


def test_create_normalizes_phone_and_derives_operator_code(api: APIClient) -> None:
    response = api.post(
        URL,
        {"phone": "+7 (985) 123-45-67", "tag": "vip", "timezone": "Europe/Moscow"},
        format="json",
    )

    assert response.status_code == 201, response.data
    assert response.data["phone"] == "79851234567"
    assert response.data["operator_code"] == "985"
    client = Client.objects.get(pk=response.data["id"])
    assert (client.phone, client.operator_code, client.tag, client.timezone) == (
        "79851234567",
        "985",
        "vip",
        "Europe/Moscow",
    )


def test_create_keeps_an_explicit_operator_code_and_defaults_timezone(api: APIClient) -> None:
    response = api.post(URL, {"phone": "79001234567", "operator_code": "916"}, format="json")

    assert response.status_code == 201
    assert response.data["operator_code"] == "916"
    assert response.data["timezone"] == "UTC"
    assert response.data["tag"] == ""


def test_duplicate_phone_is_a_400_on_phone(api: APIClient) -> None:
    ClientFactory.create(phone="79001234567")

    response = api.post(URL, {"phone": "+7 900 123-45-67"}, format="json")

    assert response.status_code == 400
    assert "phone" in response.data
    assert Client.objects.count() == 1


def test_a_duplicate_is_refused_by_the_constraint_and_the_request_writes_nothing(
    api: APIClient,
) -> None:
    """No check before the insert (it could lose the race to a concurrent create anyway):
    the insert fails on the unique constraint, and the request's transaction goes back
    whole (no audit entry either)."""
    from accounts.models import AuditEntry

    ClientFactory.create(phone="79001234567")
    entries = AuditEntry.objects.count()

    response = api.post(URL, {"phone": "79001234567"}, format="json")

    assert response.status_code == 400
    assert response.data == {"phone": [DUPLICATE_PHONE]}
    assert Client.objects.count() == 1
    assert AuditEntry.objects.count() == entries
    assert api.get(URL).status_code == 200  # the connection is usable again


def test_a_create_reaches_the_clients_table_with_its_insert_alone(api: APIClient) -> None:
    with CaptureQueriesContext(connection) as queries:
        response = api.post(URL, {"phone": "79001234567"}, format="json")

    assert response.status_code == 201
    on_clients = [q["sql"] for q in queries if '"clients_client"' in q["sql"]]
    assert len(on_clients) == 1, on_clients
    assert on_clients[0].startswith("INSERT")


def test_a_change_to_another_client_s_phone_is_the_same_400(api: APIClient) -> None:
    ClientFactory.create(phone="79001234567")
    other = ClientFactory.create(phone="79007654321")

    response = api.patch(f"{URL}{other.pk}/", {"phone": "79001234567"}, format="json")

    assert response.status_code == 400
    assert response.data == {"phone": [DUPLICATE_PHONE]}
    assert Client.objects.get(pk=other.pk).phone == "79007654321"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"phone": "89001234567"}, "phone"),
        ({}, "phone"),
        ({"phone": "79001234567", "operator_code": "12"}, "operator_code"),
        ({"phone": "79001234567", "timezone": "Mars/Base"}, "timezone"),
        ({"phone": "79001234567", "tag": "x" * 65}, "tag"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(
    api: APIClient, payload: dict[str, str], field: str
) -> None:
    response = api.post(URL, payload, format="json")

    assert response.status_code == 400
    assert field in response.data
    assert Client.objects.count() == 0


def test_malformed_json_is_a_400_not_a_500(api: APIClient) -> None:
    response = api.generic("POST", URL, "{not json", content_type="application/json")

    assert response.status_code == 400


def test_list_filters_by_tag_and_operator_code(api: APIClient) -> None:
    a = ClientFactory.create(phone="79001111111", operator_code="900", tag="vip")
    ClientFactory.create(phone="79002222222", operator_code="900", tag="new")
    ClientFactory.create(phone="79163333333", operator_code="916", tag="vip")

    by_both = api.get(URL, {"tag": "vip", "operator_code": "900"})
    by_tag = api.get(URL, {"tag": "vip"})

    assert [c["id"] for c in by_both.data["results"]] == [a.pk]
    assert by_tag.data["count"] == 2


def test_list_is_paginated(api: APIClient) -> None:
    ClientFactory.create_batch(5)

    first = api.get(URL, {"page_size": 2})
    last = api.get(URL, {"page_size": 2, "page": 3})
    beyond = api.get(URL, {"page_size": 2, "page": 4})

    assert first.data["count"] == 5
    assert len(first.data["results"]) == 2
    assert first.data["next"].endswith("page=2&page_size=2")
    assert first.data["previous"] is None
    assert len(last.data["results"]) == 1
    assert last.data["next"] is None
    assert beyond.status_code == 404


def test_retrieve_and_missing_client(api: APIClient) -> None:
    client = ClientFactory.create()

    assert api.get(f"{URL}{client.pk}/").data["phone"] == client.phone
    assert api.get(f"{URL}{client.pk + 100}/").status_code == 404


def test_put_replaces_and_patch_changes_fields(api: APIClient) -> None:
    client = ClientFactory.create(phone="79001234567", operator_code="900", tag="a")

    put = api.put(
        f"{URL}{client.pk}/",
        {"phone": "79001234567", "operator_code": "901", "tag": "b", "timezone": "Asia/Tokyo"},
        format="json",
    )
    patch = api.patch(f"{URL}{client.pk}/", {"tag": "c"}, format="json")

    assert put.status_code == 200
    assert patch.status_code == 200
    client.refresh_from_db()
    assert (client.operator_code, client.tag, client.timezone) == ("901", "c", "Asia/Tokyo")


def test_patch_to_another_clients_phone_is_a_400(api: APIClient) -> None:
    ClientFactory.create(phone="79001111111")
    client = ClientFactory.create(phone="79002222222")

    response = api.patch(f"{URL}{client.pk}/", {"phone": "79001111111"}, format="json")

    assert response.status_code == 400
    assert "phone" in response.data


def test_patching_the_phone_rederives_the_operator_code(api: APIClient) -> None:
    client = ClientFactory.create(phone="79001234567", operator_code="900")

    api.patch(f"{URL}{client.pk}/", {"phone": "79851234567"}, format="json")

    client.refresh_from_db()
    assert client.operator_code == "985"


def test_patch_without_phone_keeps_a_moved_operator_code(api: APIClient) -> None:
    client = ClientFactory.create(phone="79001234567", operator_code="916")

    api.patch(f"{URL}{client.pk}/", {"tag": "x"}, format="json")

    client.refresh_from_db()
    assert client.operator_code == "916"


def test_delete_cancels_undelivered_messages_and_keeps_the_rest(api: APIClient) -> None:
    client = ClientFactory.create()
    pending = MessageFactory.create(client=client, status=MessageStatus.PENDING)
    sent = MessageFactory.create(client=client, status=MessageStatus.SENT)
    other = MessageFactory.create(status=MessageStatus.PENDING)

    response = api.delete(f"{URL}{client.pk}/")

    assert response.status_code == 204
    assert not Client.objects.filter(pk=client.pk).exists()
    pending.refresh_from_db()
    sent.refresh_from_db()
    other.refresh_from_db()
    assert (pending.status, pending.client_id) == (MessageStatus.CANCELLED, None)
    assert (sent.status, sent.client_id) == (MessageStatus.SENT, None)
    assert other.status == MessageStatus.PENDING


def test_every_client_endpoint_needs_a_token(anon: APIClient) -> None:
    client = ClientFactory.create()
    calls = [
        ("get", URL),
        ("post", URL),
        ("get", f"{URL}{client.pk}/"),
        ("put", f"{URL}{client.pk}/"),
        ("patch", f"{URL}{client.pk}/"),
        ("delete", f"{URL}{client.pk}/"),
        ("post", f"{URL}import/"),
    ]
    for method, url in calls:
        assert getattr(anon, method)(url).status_code == 401, (method, url)
    assert Client.objects.filter(pk=client.pk).exists()


def test_a_change_whose_audit_entry_cannot_be_written_is_not_made(
    api: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from clients import views

    existing = ClientFactory.create(phone="79850000001", tag="old")

    def broken(**kwargs: object) -> None:
        raise RuntimeError("the audit table is gone")

    monkeypatch.setattr(views, "audit_record", broken)
    api.raise_request_exception = False

    created = api.post(URL, {"phone": "79850000002"}, format="json")
    changed = api.patch(f"{URL}{existing.pk}/", {"tag": "new"}, format="json")
    deleted = api.delete(f"{URL}{existing.pk}/")

    assert (created.status_code, changed.status_code, deleted.status_code) == (500, 500, 500)
    assert list(Client.objects.values_list("phone", "tag")) == [("79850000001", "old")]
