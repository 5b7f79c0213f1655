"""Writes to the stop list: add, remove, import (SPEC 8.3).

A listed number receives nothing: a launch creates its message ``suppressed``, and a claim
suppresses the message of a number listed while its mailing runs (``mailings.messages``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction

from clients import validation
from clients.importing import (
    CHUNK_ROWS,
    ImportResult,
    RawRow,
    chunks,
    cleaned_rows,
    text_problems,
)
from core.logging import mask_phone
from stoplist.models import REASON_MAX_LENGTH, Source, StopListEntry

logger = logging.getLogger(__name__)

IMPORT_COLUMNS = ("phone", "reason")


def stoplist_add(
    *, phone: str, reason: str = "", source: str = Source.API, created_by: str = ""
) -> tuple[StopListEntry, bool]:
    """List a number (already normalized); returns (its entry, whether it is new). A number
    already listed keeps its entry as it is."""
    try:
        with transaction.atomic():
            entry, created = StopListEntry.objects.get_or_create(
                phone=phone,
                defaults={"reason": reason, "source": source, "created_by": created_by},
            )
    except IntegrityError:  # a concurrent add of the same number won
        entry, created = StopListEntry.objects.get(phone=phone), False
    if created:
        logger.info("number stop-listed", extra={"phone": mask_phone(phone), "source": source})
    return entry, created


def stoplist_remove(*, entry: StopListEntry) -> None:
    phone = entry.phone
    entry.delete()
    logger.info("number removed from the stop list", extra={"phone": mask_phone(phone)})


def _clean(raw: Any) -> tuple[tuple[str, str] | None, dict[str, list[str]]]:
    errors = text_problems(raw)
    if errors:
        return None, errors
    phone = reason = ""
    value = raw.get("phone")
    if value is None or (isinstance(value, str) and not value.strip()):
        errors["phone"] = ["This field is required."]
    else:
        try:
            phone = validation.clean_phone(value)
        except ValueError as exc:
            errors["phone"] = [str(exc)]
    given = raw.get("reason") or ""
    if not isinstance(given, str):
        errors["reason"] = ["Enter the reason as a string."]
    elif len(given) > REASON_MAX_LENGTH:
        errors["reason"] = [f"Ensure the reason has at most {REASON_MAX_LENGTH} characters."]
    else:
        reason = given.strip()
    if errors:
        return None, errors
    return (phone, reason), {}


def stoplist_import(*, rows: Iterable[RawRow], created_by: str = "") -> ImportResult:
    """List every valid row's number, chunk by chunk in one transaction: a new number is
    created, a listed one takes the row's reason when it gives one (``updated``); a number
    seen earlier in the same input is rejected as a duplicate of that line."""
    result = ImportResult()
    seen: dict[str, int] = {}
    with transaction.atomic():
        for chunk in chunks(rows, CHUNK_ROWS):
            valid: dict[str, str] = {}
            for line, (phone, reason) in cleaned_rows(chunk, _clean, result.rejections):
                if phone in seen:
                    result.rejections.add(line, {"phone": [f"Duplicate of line {seen[phone]}."]})
                    continue
                seen[phone] = line
                valid[phone] = reason
            _apply(valid, result, created_by)
    logger.info(
        "stop list imported",
        extra={
            "entries_created": result.created,
            "entries_updated": result.updated,
            "rows_rejected": result.rejections.count,
        },
    )
    return result


def _apply(valid: dict[str, str], result: ImportResult, created_by: str) -> None:
    existing = {
        entry.phone: entry
        for entry in StopListEntry.objects.select_for_update().filter(phone__in=list(valid))
    }
    new = [
        StopListEntry(phone=phone, reason=reason, source=Source.IMPORT, created_by=created_by)
        for phone, reason in valid.items()
        if phone not in existing
    ]
    StopListEntry.objects.bulk_create(new, batch_size=1000, ignore_conflicts=True)
    result.created += len(new)
    changed = []
    for phone, entry in existing.items():
        if valid[phone] and valid[phone] != entry.reason:
            entry.reason = valid[phone]
            changed.append(entry)
    StopListEntry.objects.bulk_update(changed, ["reason"], batch_size=1000)
    result.updated += len(changed)
