from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest
from rest_framework.test import APIClient

from core.logging import JsonFormatter, TextFormatter, mask_phone, mask_phones_in
from mailings.tests.factories import MailingFactory


def test_phones_are_masked_to_their_first_four_and_last_four_digits() -> None:
    assert mask_phone("79001234567") == "7900***4567"
    assert mask_phone(79001234567) == "7900***4567"
    assert mask_phone(None) == ""


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("call 79001234567 now", "call 7900***4567 now"),
        ("+79001234567", "+7900***4567"),
        ("89001234567,79007654321", "8900***4567,7900***4321"),
        ("id=5+79001234567", "id=5+7900***4567"),
        ("x79001234567y", "x7900***4567y"),
        # Not a whole number of eleven digits, or not starting with 7 or 8: left as it is.
        ("179001234567", "179001234567"),
        ("790012345678", "790012345678"),
        ("69001234567", "69001234567"),
        ("7900123456", "7900123456"),
        ("7900***4567", "7900***4567"),
    ],
)
def test_phone_numbers_inside_any_text_are_masked_and_nothing_else(text: str, shown: str) -> None:
    assert mask_phones_in(text) == shown


def record(**extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("delivery", logging.INFO, __file__, 1, "attempt %s", ("ok",), None)
    rec.__dict__.update(extra)
    return rec


def test_json_lines_carry_the_context_keys() -> None:
    line = json.loads(JsonFormatter().format(record(mailing_id=3, message_id=9, client_id=4)))

    assert line["message"] == "attempt ok"
    assert (line["mailing_id"], line["message_id"], line["client_id"]) == (3, 9, 4)
    assert line["level"] == "INFO"


def test_json_lines_keep_any_value_readable_and_unescaped() -> None:
    when = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
    huge = 2**70  # beyond what orjson encodes: the line still comes out whole
    line = json.loads(
        JsonFormatter().format(record(when=when, text="привет", huge=huge, thing=object))
    )

    assert line["when"].startswith("2027-01-15")
    assert line["text"] == "привет"
    assert line["huge"] == huge
    assert line["thing"] == str(object)
    assert "привет" in JsonFormatter().format(record(text="привет"))  # not \\u-escaped


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


def test_text_lines_cannot_be_forged_and_phones_in_any_value_are_masked() -> None:
    import logging

    from core.logging import TextFormatter

    record = logging.LogRecord(
        "api", logging.INFO, __file__, 1, "GET %s 404", ("/x\n12:00:00.000 INFO forged",), None
    )
    record.path = "/api/stoplist/79001234567/\r\nfake"
    record.error = "number 79001234567 is blocked"
    line = TextFormatter().format(record)
    assert "\n" not in line and "\r" not in line
    assert "\\n12:00:00.000 INFO forged" in line
    assert "79001234567" not in line
    assert "7900***4567" in line


def test_a_gateway_error_naming_the_number_is_stored_masked(db: None) -> None:
    import uuid

    from mailings import messages
    from mailings.models import Message, MessageStatus
    from mailings.tests.factories import MessageFactory

    message = MessageFactory.create(phone="79001234567")
    token = uuid.uuid4()
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.SENDING, lease_token=token)
    outcome = messages.MessageOutcome(
        message.pk, MessageStatus.FAILED, 1, error="HTTP 400: subscriber 79001234567 blocked"
    )
    messages.messages_record_outcomes(token=token, outcomes=[outcome])
    message.refresh_from_db()
    assert message.last_error == "HTTP 400: subscriber 7900***4567 blocked"


def test_values_that_are_not_strings_are_masked_and_escaped_too() -> None:
    # An exception (or any object) is shown through str(): its text is cleaned like a string.
    line = TextFormatter().format(record(error=ValueError("79001234567\nforged"), latency=1.5))

    assert "\n" not in line.split("] ", 1)[0]
    assert "error=7900***4567\\nforged" in line
    assert "latency=1.5" in line


def test_text_lines_show_numbers_flags_and_none_as_they_are() -> None:
    line = TextFormatter().format(
        record(message_id=79001234567, latency_ms=201.5, retried=False, error=None)
    )

    # An int is an id here, not a phone: ids and counts are shown whole.
    assert "[message_id=79001234567 latency_ms=201.5 retried=False error=None]" in line


def test_times_are_utc_with_milliseconds_within_and_across_seconds() -> None:
    early, late = record(), record()
    early.created, late.created = 1_800_000_000.004, 1_800_000_001.999  # 2027-01-15 08:00:00

    assert json.loads(JsonFormatter().format(early))["time"] == "2027-01-15T08:00:00.004+00:00"
    formatter = JsonFormatter()
    assert json.loads(formatter.format(early))["time"].endswith("08:00:00.004+00:00")
    assert json.loads(formatter.format(late))["time"].endswith("08:00:01.999+00:00")
    text = TextFormatter()
    assert text.format(early).startswith("08:00:00.004 INFO")
    assert text.format(late).startswith("08:00:01.999 INFO")


def test_records_skip_the_caller_lookup_and_process_names() -> None:
    import config.settings  # noqa: F401 -- it calls lean_records()

    assert logging._srcfile is None
    assert not (logging.logThreads or logging.logProcesses or logging.logMultiprocessing)
