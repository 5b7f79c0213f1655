"""A mailing's messages as CSV, streamed in bounded memory (SPEC 8.4).

Rows are read in windows of ``PAGE`` message ids (each one primary-key range scan), written
through ``csv`` and handed to the response as they come, so memory does not grow with the
number of messages. A cell that starts with ``=``, ``+``, ``-`` or ``@``
is prefixed with ``'`` so that a spreadsheet shows it as text instead of running it
(CSV/formula injection; a gateway's error text is not ours to trust).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.db.models import Max, Min
from django.http import StreamingHttpResponse

from mailings.models import Message

# The CSV's columns and the message fields they come from.
COLUMNS = {
    "message_id": "id",
    "client_id": "client_id",
    "phone": "phone",
    "status": "status",
    "attempts": "attempts",
    "created_at": "created_at",
    "sent_at": "sent_at",
    "last_error": "last_error",
}
HEADER = list(COLUMNS)
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
    """The CSV text, a window of message ids at a time, in id order.

    The messages of one mailing lie between its smallest and its largest id; each query
    reads one window of ``PAGE`` ids through the primary key (a range scan the planner
    always takes), whatever the mailing's size. A keyset ``id > last ORDER BY id LIMIT n``
    would let PostgreSQL pick the (mailing, status, client) index and sort the whole
    mailing for every page.
    """
    line = _Line()
    writer = csv.writer(line)
    writer.writerow(HEADER)
    yield line.value
    mine = Message.objects.filter(mailing_id=mailing_id)
    bounds = mine.aggregate(first=Min("id"), last=Max("id"))
    if bounds["first"] is None:
        return
    fields = list(COLUMNS.values())
    for start in range(bounds["first"], bounds["last"] + 1, PAGE):
        window = mine.filter(id__gte=start, id__lt=start + PAGE).order_by("id")
        chunk = []
        for row in window.values_list(*fields):
            writer.writerow([safe_cell(value) for value in row])
            chunk.append(line.value)
        if chunk:
            yield "".join(chunk)


def export_response(*, mailing_id: int) -> StreamingHttpResponse:
    """The streamed CSV as a download (the API's route and the admin's button)."""
    response = StreamingHttpResponse(
        export_rows(mailing_id=mailing_id), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="mailing-{mailing_id}.csv"'
    return response
