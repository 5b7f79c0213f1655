"""Bulk import of clients from a CSV file or a JSON array.

1. Read rows one at a time (a CSV file is streamed, never loaded whole).
2. Validate each row with the same rules as the API (``clients.validation``); a phone seen
   earlier in the same input is rejected as a duplicate of that line.
3. Every few thousand valid rows: look up which phones exist, then upsert them with one
   ``INSERT … ON CONFLICT (phone) DO UPDATE`` per set of given columns, so an empty cell
   keeps an existing client's value and takes the default for a new client.

All of it runs in one transaction: an input that cannot be read at all (bad header, not
UTF-8) is a 400 and writes nothing.
"""

from __future__ import annotations

import csv
import io
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import IO, Any

from django.db import transaction
from django.utils import timezone

from clients import validation
from clients.models import Client
from core.exceptions import InvalidInput

logger = logging.getLogger(__name__)

COLUMNS = ("phone", "operator_code", "tag", "timezone")
OPTIONAL_COLUMNS = ("operator_code", "tag", "timezone")
CHUNK_ROWS = 5000
REQUIRED = "This field is required."

# A row to import: its line and either its cells or, for a malformed row, the reason.
RawRow = tuple[int, Mapping[str, Any] | str]


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _CleanRow:
    phone: str
    operator_code: str | None
    tag: str | None
    timezone: str | None

    @property
    def given(self) -> tuple[str, ...]:
        return tuple(name for name in OPTIONAL_COLUMNS if getattr(self, name) is not None)


def csv_rows(binary: IO[bytes]) -> Iterator[RawRow]:
    """Rows of a CSV file with the header ``phone,operator_code,tag,timezone``.

    Columns may come in any order; only ``phone`` is required. Blank lines are skipped.
    """
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
    reader = csv.reader(text)
    try:
        header = [name.strip().lower() for name in next(reader, [])]
        if not header:
            raise InvalidInput({"file": ["The file is empty: expected a header line."]})
        unknown = [name for name in header if name not in COLUMNS]
        if unknown or "phone" not in header or len(set(header)) != len(header):
            raise InvalidInput(
                {
                    "file": [
                        f"Bad header {','.join(header)!r}: expected the columns "
                        f"{','.join(COLUMNS)} (phone required, each at most once)."
                    ]
                }
            )
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(header):
                yield reader.line_num, f"Expected {len(header)} cells, found {len(cells)}."
                continue
            yield reader.line_num, dict(zip(header, cells, strict=True))
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            {"file": [f"The file is not UTF-8 text (line {reader.line_num + 1})."]}
        ) from exc
    except csv.Error as exc:
        raise InvalidInput({"file": [f"Unreadable CSV at line {reader.line_num}: {exc}."]}) from exc


def json_rows(items: object) -> Iterator[RawRow]:
    """Rows of a JSON array of client objects; ``line`` is the 1-based position."""
    if not isinstance(items, list):
        raise InvalidInput(
            {
                "non_field_errors": [
                    "Send a CSV file in the field 'file' or a JSON array of clients."
                ]
            }
        )
    for position, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            yield position, "Expected an object with phone, operator_code, tag, timezone."
            continue
        unknown = sorted(set(item) - set(COLUMNS))
        if unknown:
            yield position, f"Unknown fields: {', '.join(unknown)}."
            continue
        yield position, item


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _clean_row(raw: Mapping[str, Any]) -> tuple[_CleanRow | None, dict[str, list[str]]]:
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, str | None] = {}
    checks = {
        "phone": validation.clean_phone,
        "operator_code": validation.clean_operator_code,
        "tag": validation.clean_tag,
        "timezone": lambda v: validation.clean_timezone(v.strip() if isinstance(v, str) else v),
    }
    for name, clean in checks.items():
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
    return _CleanRow(**cleaned), {}  # type: ignore[arg-type]


def _chunks(rows: Iterable[RawRow], size: int) -> Iterator[list[RawRow]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _upsert(rows: list[_CleanRow], result: ImportResult) -> None:
    phones = [row.phone for row in rows]
    existing = set(Client.objects.filter(phone__in=phones).values_list("phone", flat=True))
    result.updated += len(existing)
    result.created += len(rows) - len(existing)

    now = timezone.now()
    by_given: dict[tuple[str, ...], list[Client]] = defaultdict(list)
    for row in rows:
        by_given[row.given].append(
            Client(
                phone=row.phone,
                operator_code=row.operator_code or validation.operator_code_from_phone(row.phone),
                tag=row.tag if row.tag is not None else "",
                timezone=row.timezone or validation.DEFAULT_TIMEZONE,
                created_at=now,
            )
        )
    for given, clients in by_given.items():
        if given:
            Client.objects.bulk_create(
                clients,
                batch_size=1000,
                update_conflicts=True,
                unique_fields=["phone"],
                update_fields=list(given),
            )
        else:  # only the phone: an existing client keeps everything
            Client.objects.bulk_create(clients, batch_size=1000, ignore_conflicts=True)


def clients_import(*, rows: Iterable[RawRow]) -> ImportResult:
    """Validate and upsert every row; report each rejected one with its line and reason."""
    result = ImportResult()
    first_line: dict[str, int] = {}
    with transaction.atomic():
        for chunk in _chunks(rows, CHUNK_ROWS):
            valid: list[_CleanRow] = []
            for line, raw in chunk:
                if isinstance(raw, str):
                    result.rejected.append({"line": line, "errors": {"non_field_errors": [raw]}})
                    continue
                row, errors = _clean_row(raw)
                if row is not None and row.phone in first_line:
                    errors = {"phone": [f"Duplicate of line {first_line[row.phone]}."]}
                if row is None or errors:
                    result.rejected.append({"line": line, "errors": errors})
                    continue
                first_line[row.phone] = line
                valid.append(row)
            if valid:
                _upsert(valid, result)
    logger.info(
        "clients imported",
        extra={
            "clients_created": result.created,
            "clients_updated": result.updated,
            "rows_rejected": len(result.rejected),
        },
    )
    return result
