"""The benchmarks' bulk data generators write rows the current schema accepts, and the
statistics they are read back through match what was generated."""

from __future__ import annotations

import pytest
from django.db import connection

from bench.data_paths import generate_statistics_data
from mailings import counters
from mailings.models import Message


@pytest.mark.django_db(transaction=True)
def test_statistics_data_is_generated_in_the_current_schema_and_counted() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the generator is PostgreSQL's bulk SQL (generate_series)")

    ids = generate_statistics_data(32, 2)

    assert len(ids) == 2
    assert Message.objects.filter(mailing_id__in=ids).count() == 32
    counted = {(m, s): n for m, s, n in counters.counts_by_mailing(ids)}
    assert sum(counted.values()) == 32
    assert (
        counted[(ids[0], "sent")]
        == Message.objects.filter(mailing_id=ids[0], status="sent").count()
    )
