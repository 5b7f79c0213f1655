from __future__ import annotations

import json
import logging

import pytest
from rest_framework.test import APIClient

from core.logging import JsonFormatter, TextFormatter, mask_phone
from mailings.tests.factories import MailingFactory


def test_phones_are_masked_to_their_first_four_and_last_four_digits() -> None:
    assert mask_phone("79001234567") == "7900***4567"
    assert mask_phone(79001234567) == "7900***4567"
    assert mask_phone(None) == ""


def record(**extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("delivery", logging.INFO, __file__, 1, "attempt %s", ("ok",), None)
    rec.__dict__.update(extra)
    return rec


def test_json_lines_carry_the_context_keys() -> None:
    line = json.loads(JsonFormatter().format(record(mailing_id=3, message_id=9, client_id=4)))

    assert line["message"] == "attempt ok"
    assert (line["mailing_id"], line["message_id"], line["client_id"]) == (3, 9, 4)
    assert line["level"] == "INFO"


def test_text_lines_show_the_context_keys() -> None:
    line = TextFormatter().format(record(mailing_id=3, message_id=9))

    assert line.endswith("delivery: attempt ok [mailing_id=3 message_id=9]")


@pytest.mark.django_db
def test_api_requests_are_logged_with_the_ids_they_touch(
    api: APIClient, caplog: pytest.LogCaptureFixture
) -> None:
    mailing = MailingFactory.create()
    caplog.set_level(logging.INFO, logger="api")

    api.get(f"/api/mailings/{mailing.pk}/")
    created = api.post("/api/clients/", {"phone": "+7 900 123 45 67"}, format="json")

    lines = [r for r in caplog.records if r.name == "api"]
    assert lines[0].__dict__["mailing_id"] == mailing.pk
    assert lines[0].__dict__["status"] == 200
    assert lines[1].__dict__["client_id"] == created.data["id"]
    everything = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    assert "79001234567" not in everything  # phones only ever appear masked
    assert "7900***4567" in everything
