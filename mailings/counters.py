"""Exact message counts without counting messages (see ``MessageCount``).

Totals live in ``mailings_messagecount``; triggers append changes to
``mailings_messagecountdelta``; ``counts_compact`` (every scheduler tick) folds the deltas
into the totals. Every read sums totals and pending deltas in one statement, so it sees one
consistent snapshot whether or not a compaction is running.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection, transaction

TOTALS = "mailings_messagecount"
DELTAS = "mailings_messagecountdelta"


def counts_compact() -> None:
    """Fold pending deltas into the totals; drop totals of deleted mailings."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One statement: the rows it deletes are exactly the rows it adds up.
            cursor.execute(
                f"WITH moved AS (DELETE FROM {DELTAS} RETURNING mailing_id, status, delta) "  # noqa: S608
                f"INSERT INTO {TOTALS} (mailing_id, status, count) "
                "SELECT mailing_id, status, sum(delta) FROM moved "
                "GROUP BY mailing_id, status ORDER BY mailing_id, status "
                "ON CONFLICT (mailing_id, status) "
                f"DO UPDATE SET count = {TOTALS}.count + EXCLUDED.count"
            )
        else:
            # SQLite serializes writers, so two statements in one transaction see the same rows.
            with transaction.atomic():
                cursor.execute(f"SELECT max(id) FROM {DELTAS}")  # noqa: S608
                (last,) = cursor.fetchone()
                if last is None:
                    return
                cursor.execute(
                    f"INSERT INTO {TOTALS} (mailing_id, status, count) "  # noqa: S608
                    f"SELECT mailing_id, status, sum(delta) FROM {DELTAS} WHERE id <= %s "
                    "GROUP BY mailing_id, status "
                    "ON CONFLICT (mailing_id, status) "
                    f"DO UPDATE SET count = {TOTALS}.count + excluded.count",
                    [last],
                )
                cursor.execute(f"DELETE FROM {DELTAS} WHERE id <= %s", [last])  # noqa: S608
        cursor.execute(
            f"DELETE FROM {TOTALS} WHERE mailing_id NOT IN (SELECT id FROM mailings_mailing)"  # noqa: S608
        )


def counts_by_mailing(mailing_ids: Iterable[int]) -> list[tuple[int, str, int]]:
    """``(mailing_id, status, count)`` rows for the given mailings."""
    ids = [int(i) for i in mailing_ids]
    if not ids:
        return []
    marks = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT mailing_id, status, sum(n) FROM ("  # noqa: S608
            f"SELECT mailing_id, status, count AS n FROM {TOTALS} WHERE mailing_id IN ({marks}) "
            "UNION ALL "
            f"SELECT mailing_id, status, delta AS n FROM {DELTAS} WHERE mailing_id IN ({marks})"
            ") c GROUP BY mailing_id, status",
            ids + ids,
        )
        return [(m, s, int(n)) for m, s, n in cursor.fetchall()]


def counts_overall() -> list[tuple[str, int]]:
    """``(status, count)`` over every existing mailing."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT status, sum(n) FROM ("  # noqa: S608
            f"SELECT mailing_id, status, count AS n FROM {TOTALS} "
            "UNION ALL "
            f"SELECT mailing_id, status, delta AS n FROM {DELTAS}"
            ") c WHERE mailing_id IN (SELECT id FROM mailings_mailing) GROUP BY status"
        )
        return [(s, int(n)) for s, n in cursor.fetchall()]
