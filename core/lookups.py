"""``field__any_of=[...]``: membership in a list of values, as one parameter.

``field__in=[...]`` writes one placeholder per value, and psycopg's client-side binding
quotes each of them: for the dispatcher's batches of 500 ids that cost about 10 µs of the
worker's CPU per id and statement (6.5 ms an UPDATE, against 1.3 ms with one array). On
PostgreSQL ``any_of`` is ``= ANY(%s::bigint[])`` with the list as one parameter, written as
the array's text (``{1,2,3}``): psycopg's dumper of a Python list still quoted each item
(1.19 ms of CPU an UPDATE of 1,000 ids, against 0.16 ms with the text). Elsewhere it is the
same ``IN (…)`` as ``__in``. Registered on integer fields (ids) by ``CoreConfig``.
"""

from __future__ import annotations

from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Lookup
from django.db.models.sql.compiler import SQLCompiler


class AnyOf(Lookup):
    lookup_name = "any_of"
    prepare_rhs = False

    def get_prep_lookup(self) -> list[int]:
        return list(map(int, self.rhs))  # integer fields only: int() is their preparation

    def as_sql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper
    ) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        values = list(self.rhs)
        if connection.vendor == "postgresql":
            array = "{" + ",".join(map(str, values)) + "}"
            return f"{lhs} = ANY(%s::bigint[])", [*lhs_params, array]
        placeholders = ", ".join(["%s"] * len(values))
        return f"{lhs} IN ({placeholders})", [*lhs_params, *values]
