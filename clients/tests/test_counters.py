"""The client count the unfiltered list answers with is exact through every way clients
come and go (the API, a bulk import that also updates, deletes one by one and in bulk), and
through the tick's folding of the deltas, without a COUNT over the clients."""

from __future__ import annotations

import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from clients.counters import clients_count, clients_count_compact
from clients.models import Client, ClientCountDelta
from clients.tests.factories import ClientFactory

pytestmark = pytest.mark.django_db


def upload(api: APIClient, text: str) -> None:
    file = io.BytesIO(text.encode())
    file.name = "clients.csv"
    response = api.post("/api/clients/import/", {"file": file}, format="multipart")
    assert response.status_code == 200, response.data


def test_the_count_follows_every_insert_update_and_delete(api: APIClient) -> None:
    assert clients_count() == 0
    ClientFactory.create_batch(3)
    assert api.post("/api/clients/", {"phone": "79001110000"}, format="json").status_code == 201
    assert clients_count() == 4

    # Two new phones and one existing (an update: the count must not move for it).
    existing = Client.objects.first()
    assert existing is not None
    upload(api, f"phone,tag\n79005550001,a\n79005550002,a\n{existing.phone},b\n")
    assert clients_count() == Client.objects.count() == 6

    api.delete(f"/api/clients/{existing.pk}/")
    Client.objects.filter(tag="a").delete()
    assert clients_count() == Client.objects.count() == 3

    clients_count_compact()
    assert ClientCountDelta.objects.count() == 1
    assert clients_count() == 3
    clients_count_compact()  # nothing to fold: the one row stays as it is
    assert list(ClientCountDelta.objects.values_list("delta", flat=True)) == [3]


def test_the_unfiltered_list_answers_the_count_without_counting_clients(
    api: APIClient,
) -> None:
    ClientFactory.create_batch(5, tag="x")
    ClientFactory.create_batch(2, tag="y")

    with CaptureQueriesContext(connection) as queries:
        whole = api.get("/api/clients/?page_size=2")
    filtered = api.get("/api/clients/?tag=y")

    assert whole.status_code == 200
    assert whole.data["count"] == 7
    assert len(whole.data["results"]) == 2
    assert not any("COUNT(" in q["sql"].upper() for q in queries.captured_queries)
    assert filtered.data["count"] == 2


def test_after_a_flush_that_deleted_the_deltas_first_the_count_is_derived_again() -> None:
    """Django's flush empties tables in no set order; on SQLite the clients' delete trigger
    then leaves a delta for every client. post_migrate (sent after migrate and flush)
    re-derives the count."""
    from django.core.management.sql import emit_post_migrate_signal

    ClientFactory.create_batch(3)
    ClientCountDelta.objects.all().delete()  # the deltas emptied first
    Client.objects.filter(pk__in=list(Client.objects.values_list("pk", flat=True)[:2])).delete()
    ClientFactory.create_batch(1)
    wrong = clients_count()

    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")

    assert wrong != Client.objects.count()  # what the order left behind
    assert clients_count() == Client.objects.count() == 2
    assert ClientCountDelta.objects.count() == 1
