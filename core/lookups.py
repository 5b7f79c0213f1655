"""``field__any_of=[...]``: membership in a list of values, as one parameter.

``field__in=[...]`` writes one placeholder per value, and psycopg's client-side binding
quotes each of them: for the dispatcher's batches of 500 ids that cost about 10 µs of the
worker's CPU per id and statement (6.5 ms an UPDATE, against 1.3 ms with one array). On
PostgreSQL ``any_of`` is ``= ANY(%s)`` with the list as one array parameter; elsewhere it
is the same ``IN (…)`` as ``__in``. Registered on integer fields (ids) by ``CoreConfig``.
"""

from __future__ import annotations

from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Lookup
from django.db.models.sql.compiler import SQLCompiler


class AnyOf(Lookup):
    lookup_name = "any_of"
    prepare_rhs = False

    def get_prep_lookup(self) -> list[Any]:
        return [self.lhs.output_field.get_prep_value(value) for value in self.rhs]

    def as_sql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper
    ) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        values = list(self.rhs)
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY(%s)", [*lhs_params, values]
        placeholders = ", ".join(["%s"] * len(values))
        return f"{lhs} IN ({placeholders})", [*lhs_params, *values]
