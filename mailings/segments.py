"""How many SMS segments a text takes (3GPP TS 23.038), the unit of a gateway's rate and bill.

A text of the GSM 7-bit default alphabet takes 160 septets in one segment and 153 per segment
when longer; the extension table's characters count twice (escape + character). Any other
character makes the whole text UCS-2: 70 UTF-16 code units in one segment, 67 per segment
when longer (an emoji outside the BMP counts 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")


@dataclass(frozen=True, slots=True)
class Segments:
    encoding: str  # "GSM-7" or "UCS-2"
    characters: int  # in the encoding's units: septets, or UTF-16 code units
    segments: int


def _parts(units: int, single: int, multi: int) -> int:
    if units <= single:
        return 1
    return -(-units // multi)


@lru_cache(maxsize=1024)
def count(text: str) -> Segments:
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text):
        septets = sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)
        return Segments("GSM-7", septets, _parts(septets, 160, 153))
    units = len(text.encode("utf-16-le")) // 2
    return Segments("UCS-2", units, _parts(units, 70, 67))
