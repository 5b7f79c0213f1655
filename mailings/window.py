"""The daily send window, in each client's local time.

A window is ``[start, end)`` in local wall-clock time; ``start > end`` crosses midnight
(``22:00``-``06:00``). Across DST changes:

- a start time the clocks skip (a spring-forward gap) opens the window at the jump, if the
  window is still open then; a window that lies wholly in the gap does not open that day;
- a start time the clocks pass twice (a fall-back overlap) opens the window the first time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def is_open(local: time, start: time, end: time) -> bool:
    if start < end:
        return start <= local < end
    return local >= start or local < end


def is_open_at(moment: datetime, zone: ZoneInfo, start: time, end: time) -> bool:
    return is_open(moment.astimezone(zone).time().replace(tzinfo=None), start, end)


def _opening_on(day: date, zone: ZoneInfo, start: time, end: time) -> datetime | None:
    """The instant the window opens on local date ``day``, or None if it does not."""
    naive = datetime.combine(day, start)
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == naive:
        return first  # exists; for an ambiguous time fold=0 is the first occurrence
    # The clocks jumped over `start`: find the jump between the two readings of it.
    a = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    lo, hi = min(a, first), max(a, first)
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(zone).replace(tzinfo=None) >= naive:
            hi = mid
        else:
            lo = mid
    jump = hi.replace(microsecond=0)
    if jump.astimezone(zone).replace(tzinfo=None) < naive:
        jump += timedelta(seconds=1)
    return jump if is_open_at(jump, zone, start, end) else None


def next_opening(now: datetime, zone: ZoneInfo, start: time, end: time) -> datetime:
    """The earliest instant at or after ``now`` when the window is open (UTC)."""
    if is_open_at(now, zone, start, end):
        return now
    today = now.astimezone(zone).date()
    for offset in range(0, 4):
        opening = _opening_on(today + timedelta(days=offset), zone, start, end)
        if opening is not None and opening >= now:
            return opening
    raise ValueError(f"window {start}-{end} never opens in {zone}")  # pragma: no cover
