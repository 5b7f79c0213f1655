"""Fast, set-based generation of benchmark data (no Python loop per row)."""

from __future__ import annotations

from django.db import connection


def _series(n: int) -> str:
    """A CTE named s(g) with g = 1..n on PostgreSQL and SQLite."""
    if connection.vendor == "postgresql":
        return f"WITH s(g) AS (SELECT generate_series(1, {int(n)}))"
    return f"WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {int(n)})"


def phone_sql(offset: int) -> str:
    expr = f"(g + {int(offset)})"
    if connection.vendor == "postgresql":
        return f"'7' || lpad({expr}::text, 10, '0')"
    return f"'7' || substr('0000000000' || {expr}, -10, 10)"


def insert_clients(n: int, *, offset: int = 0, tag: str = "", zone: str = "UTC") -> None:
    now = "now()" if connection.vendor == "postgresql" else "strftime('%Y-%m-%d %H:%M:%f', 'now')"
    with connection.cursor() as cursor:
        cursor.execute(
            f"{_series(n)} INSERT INTO clients_client (phone, operator_code, tag, timezone, created_at) "
            f"SELECT {phone_sql(offset)}, '900', %s, %s, {now} FROM s",
            [tag, zone],
        )
