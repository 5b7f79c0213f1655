"""Reads of the stop list."""

from __future__ import annotations

from collections.abc import Collection

from django.db.models import Exists, OuterRef, QuerySet

from stoplist.models import StopListEntry


def stoplist_entries() -> QuerySet[StopListEntry]:
    return StopListEntry.objects.all()


def listed_among(phones: Collection[str]) -> set[str]:
    """Which of these phones are on the stop list (one indexed query)."""
    if not phones:
        return set()
    return set(StopListEntry.objects.filter(phone__in=list(phones)).values_list("phone", flat=True))


def is_listed(phone: OuterRef) -> Exists:
    """For a query's rows: is the number in ``phone`` (an outer column) on the stop list?
    (An indexed lookup per row, in the same query.)"""
    return Exists(StopListEntry.objects.filter(phone=phone))
