from __future__ import annotations

import csv
import io

import pytest
from rest_framework.test import APIClient

from mailings.export import PAGE
from mailings.models import MessageStatus
from mailings.tests.factories import MailingFactory, MessageFactory

pytestmark = pytest.mark.django_db

HEADER = "message_id,client_id,phone,status,attempts,created_at,sent_at,last_error"


def read(response: object) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    return list(csv.reader(io.StringIO(text)))


def test_export_streams_every_message_in_id_order(
    api: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mailings.export.PAGE", 3)  # several pages
    mailing = MailingFactory.create()
    other = MailingFactory.create()
    made = [MessageFactory.create(mailing=mailing, attempts=i) for i in range(7)]
    MessageFactory.create(mailing=other)
    response = api.get(f"/api/mailings/{mailing.pk}/export/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f"mailing-{mailing.pk}.csv" in response["Content-Disposition"]
    rows = read(response)
    assert ",".join(rows[0]) == HEADER
    assert [int(r[0]) for r in rows[1:]] == [m.pk for m in made]
    assert [r[4] for r in rows[1:]] == [str(i) for i in range(7)]
    assert rows[1][2] == made[0].phone
    assert PAGE > 3


@pytest.mark.parametrize("start", ["=", "+", "-", "@"])
def test_a_cell_that_could_run_as_a_formula_is_quoted(api: APIClient, start: str) -> None:
    mailing = MailingFactory.create()
    evil = f'{start}HYPERLINK("http://x","y")'
    MessageFactory.create(mailing=mailing, status=MessageStatus.FAILED, last_error=evil)
    rows = read(api.get(f"/api/mailings/{mailing.pk}/export/"))
    assert rows[1][7] == "'" + evil
    assert rows[1][3] == "failed"


def test_export_of_an_unknown_mailing_is_a_404(api: APIClient, anon: APIClient) -> None:
    assert api.get("/api/mailings/999999/export/").status_code == 404
    mailing = MailingFactory.create()
    assert anon.get(f"/api/mailings/{mailing.pk}/export/").status_code == 401
