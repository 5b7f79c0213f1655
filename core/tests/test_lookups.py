"""``__any_of``: the same rows as ``__in``, with the list bound as one array on PostgreSQL."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clients.models import Client
from clients.tests.factories import ClientFactory

pytestmark = pytest.mark.django_db


def test_any_of_selects_what_in_selects() -> None:
    clients = ClientFactory.create_batch(5)
    wanted = [clients[0].pk, clients[3].pk, clients[4].pk, 10**9]

    found = set(Client.objects.filter(pk__any_of=wanted).values_list("pk", flat=True))

    assert found == set(Client.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    assert found == {clients[0].pk, clients[3].pk, clients[4].pk}
    assert not Client.objects.filter(pk__any_of=[]).exists()


def test_any_of_updates_and_binds_one_array_on_postgresql() -> None:
    clients = ClientFactory.create_batch(3, tag="old")

    with CaptureQueriesContext(connection) as queries:
        updated = Client.objects.filter(pk__any_of=[c.pk for c in clients[:2]]).update(tag="new")

    assert updated == 2
    assert sorted(Client.objects.values_list("tag", flat=True)) == ["new", "new", "old"]
    if connection.vendor == "postgresql":
        assert "= ANY(" in queries[-1]["sql"]
