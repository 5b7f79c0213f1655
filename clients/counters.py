"""The number of clients without counting them: the unfiltered client list's ``count``.

Triggers (migration 0004) append a delta row per statement that inserts or deletes clients;
the count is their sum, read in one statement, so it is exact at every instant and costs the
same with ten clients or ten million (``COUNT(*)`` scanned the whole table on every page:
~25 ms of PostgreSQL at 220,000 clients). ``clients_count_compact`` (every scheduler tick)
folds the rows into one. After ``migrate`` and ``flush`` (Django's ``post_migrate``),
``clients_count_resync`` derives the count from the table again: a flush empties the tables
in no set order (on SQLite, clients deleted after the deltas leave a delta for each).
"""

from __future__ import annotations

from django.db import connection, transaction

DELTAS = "clients_clientcountdelta"


def clients_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT coalesce(sum(delta), 0) FROM {DELTAS}")  # noqa: S608
        (total,) = cursor.fetchone()
    return int(total)


def clients_count_compact() -> None:
    """Fold the deltas into one row (nothing to do while there is at most one)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One statement: the rows it deletes are exactly the rows it adds up; a delta
            # appended meanwhile stays for the next fold.
            cursor.execute(
                f"WITH moved AS (DELETE FROM {DELTAS} "  # noqa: S608
                f"WHERE (SELECT count(*) FROM {DELTAS}) > 1 RETURNING delta) "
                f"INSERT INTO {DELTAS} (delta) SELECT sum(delta) FROM moved HAVING count(*) > 0"
            )
            return
        with transaction.atomic():  # SQLite serializes writers: both statements see one state
            cursor.execute(f"SELECT count(*), max(id) FROM {DELTAS}")  # noqa: S608
            rows, last = cursor.fetchone()
            if rows <= 1:
                return
            cursor.execute(
                f"INSERT INTO {DELTAS} (delta) "  # noqa: S608
                f"SELECT sum(delta) FROM {DELTAS} WHERE id <= %s",
                [last],
            )
            cursor.execute(f"DELETE FROM {DELTAS} WHERE id <= %s", [last])  # noqa: S608


def clients_count_resync() -> None:
    """The count from the clients table itself, as the only delta (writers wait meanwhile)."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("LOCK TABLE clients_client IN SHARE MODE")
        cursor.execute(f"DELETE FROM {DELTAS}")  # noqa: S608
        cursor.execute(f"INSERT INTO {DELTAS} (delta) SELECT count(*) FROM clients_client")  # noqa: S608
