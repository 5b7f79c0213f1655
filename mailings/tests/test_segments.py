"""Segment counts, each expected value worked out here from the rule (3GPP TS 23.038):

- GSM-7: a text of the default alphabet; 160 septets fit one segment, longer texts take
  ceil(septets / 153); each extension-table character (^ { } \\ [ ~ ] | €) takes 2 septets.
- UCS-2: any other character; 70 UTF-16 code units in one segment, longer ceil(units / 67);
  a character outside the BMP (an emoji) takes 2 units.
"""

from __future__ import annotations

import math

import pytest

from mailings.segments import count


def gsm(septets: int) -> int:
    return 1 if septets <= 160 else math.ceil(septets / 153)


def ucs(units: int) -> int:
    return 1 if units <= 70 else math.ceil(units / 67)


CASES = [
    # (text, encoding, characters, segments)
    ("a" * 160, "GSM-7", 160, gsm(160)),  # exactly one segment
    ("a" * 161, "GSM-7", 161, gsm(161)),  # one more: two segments of 153
    ("a" * 306, "GSM-7", 306, gsm(306)),  # 2 x 153: still two
    ("a" * 307, "GSM-7", 307, gsm(307)),  # three
    ("€" * 80, "GSM-7", 160, gsm(160)),  # extension characters count twice: 160 septets
    ("a" * 159 + "{", "GSM-7", 161, gsm(161)),  # 159 + 2 = 161: two segments
    ("[]^~|\\{}", "GSM-7", 16, 1),
    ("Ж" * 70, "UCS-2", 70, ucs(70)),  # Cyrillic: 70 in one segment
    ("Ж" * 71, "UCS-2", 71, ucs(71)),  # 71: two segments of 67
    ("Ж" * 134, "UCS-2", 134, ucs(134)),  # 2 x 67: two
    ("Ж" * 135, "UCS-2", 135, ucs(135)),  # three
    ("😀" * 35, "UCS-2", 70, ucs(70)),  # an emoji is two UTF-16 code units
    ("😀" * 36, "UCS-2", 72, ucs(72)),
    ("a" * 69 + "Ж", "UCS-2", 70, 1),  # one Cyrillic letter makes the whole text UCS-2
    ("a" * 70 + "Ж", "UCS-2", 71, 2),
    ("Hello {name}", "GSM-7", 14, 1),
    ("", "GSM-7", 0, 1),
]


@pytest.mark.parametrize(("text", "encoding", "characters", "segments"), CASES)
def test_segments_follow_the_rule(text: str, encoding: str, characters: int, segments: int) -> None:
    counted = count(text)
    assert (counted.encoding, counted.characters, counted.segments) == (
        encoding,
        characters,
        segments,
    )


def test_the_rule_values_used_above() -> None:
    # The boundaries, spelled out: a mistake in the helpers would show here.
    assert [gsm(n) for n in (160, 161, 306, 307)] == [1, 2, 2, 3]
    assert [ucs(n) for n in (70, 71, 134, 135)] == [1, 2, 2, 3]
