"""The clients' admin: CSV import from the page."""

from __future__ import annotations

import io

import pytest
from django.test import Client as Browser

from clients.models import Client

pytestmark = pytest.mark.django_db


def test_clients_are_imported_from_the_admin_with_a_per_row_report(admin_client: Browser) -> None:
    file = io.BytesIO(b"phone,tag\n79001111111,vip\n89002222222,x\n")
    file.name = "clients.csv"

    page = admin_client.post("/admin/clients/client/import/", {"file": file}).content.decode()

    assert "1 created, 0 updated, 1 rejected." in page
    assert "<td>3</td>" in page
    assert Client.objects.get().tag == "vip"
