from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from mailings.window import is_open, is_open_at, next_opening

MOSCOW = ZoneInfo("Europe/Moscow")  # UTC+3, no DST
NEW_YORK = ZoneInfo("America/New_York")  # DST: 2026-03-08 02:00 -> 03:00, 2026-11-01 02:00 -> 01:00


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("local", "expected"),
    [(time(8, 59), False), (time(9, 0), True), (time(20, 59), True), (time(21, 0), False)],
)
def test_a_day_window_includes_its_start_and_excludes_its_end(local: time, expected: bool) -> None:
    assert is_open(local, time(9), time(21)) is expected


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (time(21, 59), False),
        (time(22, 0), True),
        (time(23, 59), True),
        (time(0, 0), True),
        (time(5, 59), True),
        (time(6, 0), False),
        (time(12, 0), False),
    ],
)
def test_a_window_may_cross_midnight(local: time, expected: bool) -> None:
    assert is_open(local, time(22), time(6)) is expected


def test_the_window_is_read_in_the_clients_zone() -> None:
    # 06:30 UTC is 09:30 in Moscow: open there, closed in UTC.
    moment = utc(2026, 6, 1, 6, 30)
    assert is_open_at(moment, MOSCOW, time(9), time(21))
    assert not is_open_at(moment, ZoneInfo("UTC"), time(9), time(21))


def test_next_opening_is_now_inside_the_window() -> None:
    now = utc(2026, 6, 1, 10, 0)  # 13:00 Moscow
    assert next_opening(now, MOSCOW, time(9), time(21)) == now


def test_next_opening_later_today_and_tomorrow() -> None:
    early = utc(2026, 6, 1, 3, 0)  # 06:00 Moscow -> 09:00 Moscow today
    late = utc(2026, 6, 1, 19, 0)  # 22:00 Moscow -> 09:00 Moscow tomorrow

    assert next_opening(early, MOSCOW, time(9), time(21)) == utc(2026, 6, 1, 6, 0)
    assert next_opening(late, MOSCOW, time(9), time(21)) == utc(2026, 6, 2, 6, 0)


def test_next_opening_of_a_window_crossing_midnight() -> None:
    noon = utc(2026, 6, 1, 9, 0)  # 12:00 Moscow -> 22:00 Moscow
    assert next_opening(noon, MOSCOW, time(22), time(6)) == utc(2026, 6, 1, 19, 0)


def test_a_start_time_skipped_by_spring_forward_opens_at_the_jump() -> None:
    # On 2026-03-08 New York clocks jump from 02:00 EST to 03:00 EDT (07:00 UTC).
    before = utc(2026, 3, 8, 5, 0)  # 00:00 EST
    opening = next_opening(before, NEW_YORK, time(2, 30), time(5))

    assert opening == utc(2026, 3, 8, 7, 0)
    assert opening.astimezone(NEW_YORK).time() == time(3, 0)


def test_a_window_lying_wholly_in_the_gap_opens_the_next_day() -> None:
    before = utc(2026, 3, 8, 5, 0)
    opening = next_opening(before, NEW_YORK, time(2, 0), time(2, 30))

    # 2026-03-09 02:00 EDT = 06:00 UTC
    assert opening == utc(2026, 3, 9, 6, 0)


def test_a_start_time_passed_twice_in_fall_back_opens_the_first_time() -> None:
    # On 2026-11-01 New York passes 01:30 twice: 05:30 UTC (EDT) and 06:30 UTC (EST).
    before = utc(2026, 11, 1, 4, 0)  # 00:00 EDT
    assert next_opening(before, NEW_YORK, time(1, 30), time(4)) == utc(2026, 11, 1, 5, 30)


def test_the_window_follows_the_offset_change_across_dst() -> None:
    # 09:00 local is 14:00 UTC in winter and 13:00 UTC in summer.
    winter = next_opening(utc(2026, 1, 10, 12, 0), NEW_YORK, time(9), time(17))
    summer = next_opening(utc(2026, 7, 10, 12, 0), NEW_YORK, time(9), time(17))

    assert winter == utc(2026, 1, 10, 14, 0)
    assert summer == utc(2026, 7, 10, 13, 0)
