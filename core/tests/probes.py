"""Python run in a fresh interpreter under the test settings: for what a process does once,
as it starts (its open-file limit, its collector, its warm-up), which the test process
itself has long done or must not undergo."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def probe(
    code: str,
    *,
    env: Mapping[str, str] | None = None,
    before: Callable[[], None] | None = None,
) -> Any:
    """Run ``code`` after ``django.setup()`` (``json`` is imported); return the JSON it
    printed last. ``before`` runs in the child before Python starts (limits)."""
    run = subprocess.run(
        [sys.executable, "-c", f"import django, json; django.setup(); {code}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={
            "DJANGO_SETTINGS_MODULE": "config.settings_test",
            "PATH": "/usr/bin:/bin",
            **(env or {}),
        },
        preexec_fn=before,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])
