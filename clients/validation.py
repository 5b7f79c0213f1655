"""Rules for a client's fields, shared by the API serializer and the bulk importer.

Each ``clean_*`` function takes raw input and returns the normalized value or raises
``ValueError`` with a message fit for an operator.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, datetime
from functools import cache

from django.utils.dateparse import parse_datetime
from django.utils.timezone import is_naive, make_aware

# ASCII digits only: ``\d`` would take any Unicode digit (Arabic-Indic, full-width, …), and
# one number written three ways would be three clients.
PHONE_RE = re.compile(r"7[0-9]{10}")
# A leading "+" and these separators are formatting; anything else is an error.
_PHONE_NOISE = re.compile(r"[\s\-()]")
OPERATOR_CODE_RE = re.compile(r"[0-9]{3}")
# What the API accepts as a phone, for the OpenAPI document: 7 and ten digits, with an
# optional leading + and spaces, dashes or parentheses anywhere (JSON Schema's dialect).
PHONE_INPUT_PATTERN = r"^\+?[ ()-]*7([ ()-]*[0-9]){10}[ ()-]*$"
TAG_MAX_LENGTH = 64
CONSENT_SOURCE_MAX_LENGTH = 64
DEFAULT_TIMEZONE = "UTC"


def clean_phone(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError("Enter the phone as a string or a number, e.g. 79001234567.")
    text = _PHONE_NOISE.sub("", str(value))
    text = text.removeprefix("+")
    if not PHONE_RE.fullmatch(text):
        raise ValueError(
            "Enter 11 digits (0-9) starting with 7, e.g. 79001234567 or +7 (900) 123-45-67."
        )
    return text


def operator_code_from_phone(phone: str) -> str:
    """Digits 2-4 of a normalized phone: the code the number was issued with."""
    return phone[1:4]


def clean_operator_code(value: object) -> str:
    text = str(value).strip() if isinstance(value, str | int) else None
    if text is None or not OPERATOR_CODE_RE.fullmatch(text):
        raise ValueError("Enter exactly 3 digits (0-9), e.g. 900.")
    return text


def clean_tag(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("Enter the tag as a string.")
    if len(value) > TAG_MAX_LENGTH:
        raise ValueError(f"Ensure the tag has at most {TAG_MAX_LENGTH} characters.")
    return value


# In the tz database, but not places: the server's own clock and a placeholder.
NOT_ZONES = frozenset({"localtime", "Factory"})


@cache
def known_timezones() -> frozenset[str]:
    """The IANA zones a client may have: the tz database's, less ``NOT_ZONES``."""
    return frozenset(zoneinfo.available_timezones()) - NOT_ZONES


def quoted(value: object, limit: int = 100) -> str:
    """A refused value as an error message may quote it: at most ``limit`` characters."""
    text = value if isinstance(value, str) else repr(value)
    return repr(text if len(text) <= limit else text[:limit] + "…")


def clean_timezone(value: object) -> str:
    if not isinstance(value, str) or value not in known_timezones() or value in NOT_ZONES:
        raise ValueError(f"{quoted(value)} is not an IANA time zone name, e.g. Europe/Moscow.")
    return value


def clean_consent_at(value: object) -> datetime:
    """An ISO 8601 instant; without an offset it is UTC."""
    parsed = None
    if isinstance(value, str) and len(value) <= 64:
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            parsed = None
    if parsed is None:
        raise ValueError(
            "Enter consent_at as an ISO 8601 date and time, e.g. 2026-03-01T12:00:00Z."
        )
    if is_naive(parsed):
        parsed = make_aware(parsed, UTC)
    return parsed


def clean_consent_source(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("Enter the consent source as a string.")
    if len(value) > CONSENT_SOURCE_MAX_LENGTH:
        raise ValueError(
            f"Ensure the consent source has at most {CONSENT_SOURCE_MAX_LENGTH} characters."
        )
    return value


def text_problem(value: object) -> str | None:
    """Why a cell cannot be stored as text (a NUL, an unpaired surrogate), or None."""
    if not isinstance(value, str):
        return None
    if "\x00" in value:
        return "A NUL character is not allowed."
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "An unpaired surrogate is not text."
    return None
