"""Memory and bodies on a real web process (SPEC 8.1): a 100 MB import whose rows are all
rejected raises the web process's memory by at most 100 MB, and answers with at most 1,000
rejected rows."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid

import pytest

from bench.measure import PeakMemory, group_of
from e2e.stack import Stack
from e2e.test_delivery import api_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MIB = 1024 * 1024


def rss_mib(live: Stack) -> float:
    with PeakMemory(group_of(live, "web")) as memory:
        time.sleep(0.6)
    return memory.peak_process_mib


def test_a_100_mb_import_of_rejected_rows_stays_in_bounded_memory(live: Stack) -> None:
    api = api_for(live)
    row = b"not-a-phone-" + b"x" * 188 + b",tag\n"  # 206 bytes, rejected for its phone
    rows = (100 * MIB) // len(row)
    boundary = uuid.uuid4().hex
    body = b"".join(
        [
            f"--{boundary}\r\n".encode(),
            b'Content-Disposition: form-data; name="file"; filename="bad.csv"\r\n',
            b"Content-Type: text/csv\r\n\r\n",
            b"phone,tag\n",
            row * rows,
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )
    before = rss_mib(live)
    request = urllib.request.Request(
        f"{live.web_url}/api/clients/import/",
        data=body,
        method="POST",
        headers={
            "Authorization": f"Bearer {api.token}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
    )
    with (
        PeakMemory(group_of(live, "web")) as memory,
        urllib.request.urlopen(request, timeout=600) as response,
    ):
        answer = json.loads(response.read())
    print(
        f"\n100 MB import of {rows:,} rejected rows: web process {before:.0f} MiB before, "
        f"peak {memory.peak_process_mib:.0f} MiB (+{memory.peak_process_mib - before:.0f}); "
        f"answer lists {len(answer['rejected'])} of {answer['rejected_count']:,} rejected"
    )
    assert answer["rejected_count"] == rows
    assert len(answer["rejected"]) == 1000
    assert memory.peak_process_mib - before <= 100
