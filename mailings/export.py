"""A mailing's messages as CSV, streamed in bounded memory (SPEC 8.4).

Rows are read in pages of ``PAGE`` by message id (keyset: each page one indexed query, no
OFFSET), written through ``csv`` and handed to the response as they come, so memory does
not grow with the number of messages. A cell that starts with ``=``, ``+``, ``-`` or ``@``
is prefixed with ``'`` so that a spreadsheet shows it as text instead of running it
(CSV/formula injection; a gateway's error text is not ours to trust).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from mailings.models import Message

HEADER = [
    "message_id",
    "client_id",
    "phone",
    "status",
    "attempts",
    "created_at",
    "sent_at",
    "last_error",
]
PAGE = 2_000
FORMULA_STARTS = ("=", "+", "-", "@")


class _Line:
    """A file-like target for ``csv.writer`` that hands back what was written."""

    def __init__(self) -> None:
        self.value = ""

    def write(self, text: str) -> None:
        self.value = text


def safe_cell(value: Any) -> str:
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def export_rows(*, mailing_id: int) -> Iterator[str]:
    """The CSV text, a page of rows at a time."""
    line = _Line()
    writer = csv.writer(line)
    writer.writerow(HEADER)
    yield line.value
    last = 0
    fields = [
        "id",
        "client_id",
        "phone",
        "status",
        "attempts",
        "created_at",
        "sent_at",
        "last_error",
    ]
    while True:
        page = list(
            Message.objects.filter(mailing_id=mailing_id, id__gt=last)
            .order_by("id")
            .values_list(*fields)[:PAGE]
        )
        if not page:
            return
        chunk = []
        for row in page:
            writer.writerow([safe_cell(value) for value in row])
            chunk.append(line.value)
        last = page[-1][0]
        yield "".join(chunk)
