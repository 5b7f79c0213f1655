"""Migrations that install triggers: PostgreSQL's (one script) or SQLite's (one statement
each), and their reverse; other databases are refused."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import migrations


def install_triggers(
    *,
    postgres: str,
    postgres_reverse: str,
    sqlite: Sequence[str],
    sqlite_reverse: Sequence[str],
    then: Sequence[str] = (),
) -> migrations.RunPython:
    """A ``RunPython`` creating the triggers for this database, then running ``then`` (a
    backfill) on either; its reverse drops them."""

    def create(apps: Any, schema_editor: Any) -> None:
        vendor = schema_editor.connection.vendor
        if vendor == "postgresql":
            schema_editor.execute(postgres)
        elif vendor == "sqlite":
            for statement in sqlite:
                schema_editor.execute(statement)
        else:  # pragma: no cover
            raise NotImplementedError("these triggers are written for PostgreSQL and SQLite")
        for statement in then:
            schema_editor.execute(statement)

    def drop(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(postgres_reverse)
        else:
            for statement in sqlite_reverse:
                schema_editor.execute(statement)

    return migrations.RunPython(create, drop)
