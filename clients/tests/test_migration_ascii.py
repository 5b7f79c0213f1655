"""The data migration that rewrites stored Unicode digits in ASCII, and reports collisions."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

ARABIC = "7\u0669\u0660\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667"  # 79001234567
FULL_WIDTH = "7\uff19\uff10\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17"  # 79001234567
DEVANAGARI_OTHER = "7\u096f\u0966\u0966\u096f\u096f\u096f\u096f\u096f\u096f\u096f"  # 79009999999


def migrate(target: list[tuple[str, str]]) -> Any:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(target)
    return executor.loader.project_state(target).apps


@pytest.mark.django_db(transaction=True)
def test_unicode_digits_become_ascii_and_collisions_are_reported_not_merged(
    capsys: pytest.CaptureFixture[str],
) -> None:
    old = migrate([("clients", "0001_initial")])
    Client = old.get_model("clients", "Client")
    ascii_one = Client.objects.create(phone="79001234567", operator_code="900", timezone="UTC")
    arabic = Client.objects.create(phone=ARABIC, operator_code="\u0669\u0660\u0660", timezone="UTC")
    wide = Client.objects.create(phone=FULL_WIDTH, operator_code="900", timezone="UTC")
    other = Client.objects.create(phone=DEVANAGARI_OTHER, operator_code="900", timezone="UTC")

    new = migrate([("clients", "0002_ascii_digits")])

    Client = new.get_model("clients", "Client")
    rows = {c.pk: (c.phone, c.operator_code) for c in Client.objects.all()}
    assert rows[ascii_one.pk] == ("79001234567", "900")
    assert rows[other.pk] == ("79009999999", "900")
    # Both collide with 79001234567: kept apart, operator codes still made ASCII.
    assert rows[arabic.pk] == (ARABIC, "900")
    assert rows[wide.pk] == (FULL_WIDTH, "900")
    printed = capsys.readouterr().out
    assert "1 phone(s)/operator code(s) rewritten in ASCII digits" in printed
    assert f"client {arabic.pk}: its phone in ASCII digits (7900***4567) is another" in printed
    assert f"client {wide.pk}: its phone in ASCII digits (7900***4567) is another" in printed
    assert "79001234567" not in printed
    migrate(executor_leaf())


def executor_leaf() -> list[tuple[str, str]]:
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()
