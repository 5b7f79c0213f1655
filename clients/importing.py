"""Bulk import of clients from a CSV file or a JSON array.

1. Read rows one at a time (a CSV file is streamed, never loaded whole).
2. Validate each row with the same rules as the API (``clients.validation``); a phone seen
   earlier in the same input is rejected as a duplicate of that line.
3. Stage the valid rows in a temporary table (``COPY`` on PostgreSQL), a few thousand at a
   time, so memory stays flat whatever the size of the input.
4. In the database: report phones repeated in the input (each later line is a duplicate of
   the first), ``UPDATE`` existing clients with the given cells (an empty cell keeps the
   current value), ``INSERT`` the new ones with defaults for empty cells.

All of it runs in one transaction: an input that cannot be read at all (bad header, not
UTF-8) is a 400 and writes nothing.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import IO, Any

from django.db import connection, transaction
from django.utils import timezone

from clients import validation
from clients.models import Client
from core.exceptions import InvalidInput

logger = logging.getLogger(__name__)

COLUMNS = ("phone", "operator_code", "tag", "timezone", "consent_at", "consent_source")
CHUNK_ROWS = 10_000
REQUIRED = "This field is required."

# A row to import: its line and either its cells or, for a malformed row, the reason.
RawRow = tuple[int, Mapping[str, Any] | str]


# An import lists at most this many rejected rows; ``rejected_count`` gives them all, so a
# file of bad rows cannot make an answer (and a web process) as large as itself.
MAX_REJECTED_LISTED = 1000


@dataclass
class Rejections:
    """Rejected rows in line order: the first ``MAX_REJECTED_LISTED`` kept, all counted."""

    count: int = 0
    listed: list[dict[str, Any]] = field(default_factory=list)

    def add(self, line: int, errors: dict[str, list[str]]) -> None:
        self.count += 1
        if len(self.listed) < MAX_REJECTED_LISTED:
            self.listed.append({"line": line, "errors": errors})


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    rejections: Rejections = field(default_factory=Rejections)

    @property
    def rejected(self) -> list[dict[str, Any]]:
        return self.rejections.listed

    def as_answer(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "rejected": self.rejected,
            "rejected_count": self.rejections.count,
        }


def csv_rows(binary: IO[bytes], columns: tuple[str, ...] = COLUMNS) -> Iterator[RawRow]:
    """Rows of a CSV file with the header ``phone,operator_code,tag,timezone`` and optionally
    ``consent_at,consent_source``.

    Columns may come in any order; only ``phone`` is required. Blank lines are skipped.
    """
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
    reader = csv.reader(text)
    try:
        header = [name.strip().lower() for name in next(reader, [])]
        if not header:
            raise InvalidInput({"file": ["The file is empty: expected a header line."]})
        unknown = [name for name in header if name not in columns]
        if unknown or "phone" not in header or len(set(header)) != len(header):
            raise InvalidInput(
                {
                    "file": [
                        f"Bad header {','.join(header)!r}: expected the columns "
                        f"{','.join(columns)} (phone required, each at most once)."
                    ]
                }
            )
        # A row's line is where it starts: a quoted cell may span lines, and the reader's
        # line_num is where the row ended.
        ended = reader.line_num
        for cells in reader:
            line, ended = ended + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(header):
                yield line, f"Expected {len(header)} cells, found {len(cells)}."
                continue
            yield line, dict(zip(header, cells, strict=True))
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            {"file": [f"The file is not UTF-8 text (line {reader.line_num + 1})."]}
        ) from exc
    except csv.Error as exc:
        raise InvalidInput({"file": [f"Unreadable CSV at line {reader.line_num}: {exc}."]}) from exc


def json_rows(items: object, columns: tuple[str, ...] = COLUMNS) -> Iterator[RawRow]:
    """Rows of a JSON array of client objects; ``line`` is the 1-based position."""
    if not isinstance(items, list):
        raise InvalidInput(
            {
                "non_field_errors": [
                    "Send a CSV file in the field 'file', or JSON: an array of clients or "
                    '{"clients": [...]}.'
                ]
            }
        )
    for position, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            yield position, f"Expected an object with {', '.join(columns)}."
            continue
        unknown = sorted(set(item) - set(columns))
        if unknown:
            yield position, f"Unknown fields: {', '.join(unknown)}."
            continue
        yield position, item


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


_CHECKS: dict[str, Callable[[Any], Any]] = {
    "phone": validation.clean_phone,
    "operator_code": validation.clean_operator_code,
    "tag": validation.clean_tag,
    "timezone": lambda v: validation.clean_timezone(v.strip() if isinstance(v, str) else v),
    "consent_at": validation.clean_consent_at,
    "consent_source": validation.clean_consent_source,
}

Cleaned = tuple[str, str | None, str | None, str | None, Any, str | None]


def _fast_row(raw: Mapping[str, Any]) -> Cleaned | None:
    """The common case without exceptions: already-clean text cells. None: take the slow path."""
    phone = raw.get("phone")
    code = raw.get("operator_code") or None
    tag = raw.get("tag") or None
    zone = raw.get("timezone") or None
    if raw.get("consent_at") or raw.get("consent_source"):
        return None
    if not (isinstance(phone, str) and len(phone) == 11 and phone[0] == "7" and phone.isdigit()):
        return None
    if code is not None and not (isinstance(code, str) and len(code) == 3 and code.isdigit()):
        return None
    if tag is not None and not (
        isinstance(tag, str)
        and len(tag) <= validation.TAG_MAX_LENGTH
        and validation.text_problem(tag) is None
    ):
        return None
    if zone is not None and zone not in validation.known_timezones():
        return None
    return phone, code, tag, zone, None, None


def text_problems(raw: Mapping[str, Any]) -> dict[str, list[str]]:
    """The row's cells that cannot be stored as text (a NUL, an unpaired surrogate)."""
    errors: dict[str, list[str]] = {}
    for name, value in raw.items():
        problem = validation.text_problem(value)
        if problem:
            errors[str(name)] = [problem]
    return errors


def _clean_row(raw: Mapping[str, Any]) -> tuple[Cleaned | None, dict[str, list[str]]]:
    fast = _fast_row(raw)
    if fast is not None:
        return fast, {}
    errors = text_problems(raw)
    if errors:
        return None, errors
    cleaned: dict[str, str | None] = {}
    for name, clean in _CHECKS.items():
        value = raw.get(name)
        if _is_empty(value):
            if name == "phone":
                errors[name] = [REQUIRED]
            cleaned[name] = None
            continue
        try:
            cleaned[name] = clean(value)
        except ValueError as exc:
            errors[name] = [str(exc)]
    if errors:
        return None, errors
    phone = cleaned["phone"]
    assert phone is not None  # noqa: S101 -- a missing phone is an error above
    consent_at: Any = cleaned["consent_at"]
    if consent_at is not None and connection.vendor != "postgresql":
        consent_at = connection.ops.adapt_datetimefield_value(consent_at)
    row = (phone, cleaned["operator_code"], cleaned["tag"], cleaned["timezone"])
    return (*row, consent_at, cleaned["consent_source"]), {}


def cleaned_rows(
    chunk: Iterable[RawRow],
    clean: Callable[[Mapping[str, Any]], tuple[Any, dict[str, list[str]]]],
    rejections: Rejections,
) -> Iterator[tuple[int, Any]]:
    """The rows ``clean`` accepts, with their line; the others go to ``rejections``."""
    for line, raw in chunk:
        if isinstance(raw, str):
            rejections.add(line, {"non_field_errors": [raw]})
            continue
        row, errors = clean(raw)
        if row is None:
            rejections.add(line, errors)
            continue
        yield line, row


def chunks(rows: Iterable[RawRow], size: int) -> Iterator[list[RawRow]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


STAGE = "clients_import_rows"
StageRow = tuple[int, str, str | None, str | None, str | None, Any, str | None]


def _stage_create(cursor: Any) -> None:
    cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
    cursor.execute(
        f"CREATE TEMPORARY TABLE {STAGE} (line integer, phone varchar(11), "
        "operator_code varchar(3), tag varchar(64), timezone varchar(64), "
        "consent_at timestamp with time zone, consent_source varchar(64))"
    )


def _stage_write(cursor: Any, rows: list[StageRow]) -> None:
    if connection.vendor == "postgresql":
        with cursor.cursor.copy(
            f"COPY {STAGE} (line, phone, operator_code, tag, timezone, consent_at, "
            "consent_source) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)
    else:
        cursor.executemany(f"INSERT INTO {STAGE} VALUES (%s, %s, %s, %s, %s, %s, %s)", rows)  # noqa: S608


def _stage_apply(cursor: Any, result: ImportResult) -> None:
    """Report in-file duplicates, then update existing phones and insert new ones."""
    cursor.execute(
        "SELECT line, first FROM (SELECT line, min(line) OVER (PARTITION BY phone) AS first "  # noqa: S608
        f"FROM {STAGE}) d WHERE line > first ORDER BY line"
    )
    duplicates = cursor.fetchall()
    for line, first in duplicates:
        result.rejections.add(line, {"phone": [f"Duplicate of line {first}."]})
    if duplicates:
        cursor.execute(
            f"DELETE FROM {STAGE} WHERE line IN (SELECT line FROM (SELECT line, "  # noqa: S608
            f"min(line) OVER (PARTITION BY phone) AS first FROM {STAGE}) d WHERE line > first)"
        )
    table = Client._meta.db_table
    cursor.execute(
        f"UPDATE {table} SET operator_code = COALESCE(s.operator_code, {table}.operator_code), "  # noqa: S608
        f"tag = COALESCE(s.tag, {table}.tag), timezone = COALESCE(s.timezone, {table}.timezone), "
        f"consent_at = COALESCE(s.consent_at, {table}.consent_at), "
        f"consent_source = COALESCE(s.consent_source, {table}.consent_source) "
        f"FROM {STAGE} s WHERE {table}.phone = s.phone"
    )
    result.updated = max(cursor.rowcount, 0)
    stamp = connection.ops.adapt_datetimefield_value(timezone.now())
    cursor.execute(
        f"INSERT INTO {table} (phone, operator_code, tag, timezone, consent_at, consent_source, "  # noqa: S608
        "created_at) SELECT s.phone, COALESCE(s.operator_code, substr(s.phone, 2, 3)), "
        "COALESCE(s.tag, ''), COALESCE(s.timezone, %s), s.consent_at, "
        f"COALESCE(s.consent_source, ''), %s FROM {STAGE} s "
        f"WHERE NOT EXISTS (SELECT 1 FROM {table} c WHERE c.phone = s.phone) "
        "ON CONFLICT (phone) DO NOTHING",
        [validation.DEFAULT_TIMEZONE, stamp],
    )
    result.created = max(cursor.rowcount, 0)
    cursor.execute(f"DROP TABLE {STAGE}")


# An import this large changes the clients table enough that PostgreSQL's planner works from
# stale row counts until autovacuum's next ANALYZE (a minute or more away on a default server):
# a launch right after it was planned for the table of before (benchmark 5, fan-out after a
# million-client import: 64,479 rows/s on stale statistics, 81,566 on fresh ones).
ANALYZE_AFTER_ROWS = 50_000


def _refresh_statistics() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Client._meta.db_table}")


def clients_import(*, rows: Iterable[RawRow]) -> ImportResult:
    """Validate and upsert every row; report each rejected one with its line and reason.
    A large import has the planner's statistics refreshed once it commits (PostgreSQL)."""
    result = ImportResult()
    with transaction.atomic(), connection.cursor() as cursor:
        _stage_create(cursor)
        for chunk in chunks(rows, CHUNK_ROWS):
            valid: list[StageRow] = [
                (line, *row) for line, row in cleaned_rows(chunk, _clean_row, result.rejections)
            ]
            if valid:
                _stage_write(cursor, valid)
        _stage_apply(cursor, result)
    if connection.vendor == "postgresql" and result.created + result.updated >= ANALYZE_AFTER_ROWS:
        transaction.on_commit(_refresh_statistics)
    result.rejected.sort(key=lambda row: row["line"])
    logger.info(
        "clients imported",
        extra={
            "clients_created": result.created,
            "clients_updated": result.updated,
            "rows_rejected": result.rejections.count,
        },
    )
    return result
