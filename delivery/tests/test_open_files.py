"""A dispatcher's requests in flight fit the process's open-file limit."""

from __future__ import annotations

import resource
from typing import Any

from core.tests.probes import probe


def _in_process_limited_to(soft: int, hard: int, wanted: int) -> Any:
    """``connections_allowed(wanted)`` in a fresh process started under (soft, hard)."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    return probe(
        "import logging, resource; "
        "from delivery.dispatcher import connections_allowed; "
        "said = []; logging.getLogger('delivery.dispatcher').addHandler("
        "type('H', (logging.Handler,), {'emit': lambda self, r: said.append(r.__dict__)})()); "
        f"allowed = connections_allowed({wanted}); "
        "print(json.dumps({'allowed': allowed, 'limit': resource.getrlimit("
        "resource.RLIMIT_NOFILE), 'said': [{k: r.get(k) for k in ('wanted', 'allowed')} "
        "for r in said]}))",
        before=limit,
    )


def test_the_soft_limit_is_raised_for_the_connections_and_their_spare_files() -> None:
    got = _in_process_limited_to(soft=1024, hard=4096, wanted=1000)

    assert got["allowed"] == 1000
    assert got["limit"] == [1000 + 256, 4096]
    assert got["said"] == []


def test_under_a_hard_limit_too_low_fewer_requests_fly_and_a_warning_says_so() -> None:
    got = _in_process_limited_to(soft=512, hard=800, wanted=1000)

    assert got["allowed"] == 800 - 256
    assert got["limit"] == [800, 800]
    assert got["said"] == [{"wanted": 1000, "allowed": 544}]


def test_a_limit_already_high_enough_is_left_alone() -> None:
    got = _in_process_limited_to(soft=5000, hard=6000, wanted=1000)

    assert got == {"allowed": 1000, "limit": [5000, 6000], "said": []}
