from __future__ import annotations

import pytest

from clients import validation


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("79001234567", "79001234567"),
        ("+79001234567", "79001234567"),
        ("+7 (900) 123-45-67", "79001234567"),
        ("7 900 123 45 67", "79001234567"),
        (79001234567, "79001234567"),
    ],
)
def test_phone_formatting_is_stripped(raw: object, expected: str) -> None:
    assert validation.clean_phone(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "89001234567",  # a leading 8 is a different number format, not ours to guess
        "+89001234567",
        "7900123456",  # 10 digits
        "790012345678",  # 12 digits
        "7900123456a",
        "79001234567+",  # a + only leads
        "7.900.123.45.67",
        "7\u0669\u0660\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667",  # Arabic-Indic digits
        "7\uff19\uff10\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17",  # full-width digits
        "7\u0969\u0966\u0966\u0967\u0968\u0969\u096a\u096b\u096c\u096d",  # Devanagari
        "",
        None,
        True,
        7.9e10,
        ["79001234567"],
    ],
)
def test_bad_phones_are_rejected(raw: object) -> None:
    with pytest.raises(ValueError, match=r"11 digits|string or a number"):
        validation.clean_phone(raw)


def test_operator_code_is_derived_from_digits_two_to_four() -> None:
    assert validation.operator_code_from_phone("79851234567") == "985"


@pytest.mark.parametrize(
    "raw", ["90", "9000", "abc", "", None, "\u0669\u0660\u0660", "\uff19\uff10\uff10"]
)
def test_bad_operator_codes_are_rejected(raw: object) -> None:
    with pytest.raises(ValueError, match="3 digits"):
        validation.clean_operator_code(raw)


def test_iana_zones_are_accepted_and_others_rejected() -> None:
    assert validation.clean_timezone("Europe/Moscow") == "Europe/Moscow"
    assert validation.clean_timezone("UTC") == "UTC"
    for bad in ("Moscow", "europe/moscow", "+03:00", "", None):
        with pytest.raises(ValueError, match="IANA"):
            validation.clean_timezone(bad)


def test_tag_longer_than_64_characters_is_rejected() -> None:
    assert validation.clean_tag("x" * 64) == "x" * 64
    with pytest.raises(ValueError, match="64"):
        validation.clean_tag("x" * 65)
