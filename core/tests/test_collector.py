"""The collector is set once per serving process: frozen heap, raised thresholds."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.collector import THRESHOLDS, tune_for_service

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def restored_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_tuning_freezes_what_exists_and_raises_the_thresholds(restored_collector: None) -> None:
    gc.unfreeze()
    made_before = [object(), {"a": [1, 2]}]

    tune_for_service()

    assert gc.get_threshold() == THRESHOLDS
    assert gc.get_threshold()[0] > 700  # CPython's default, which the profile measured
    assert gc.get_freeze_count() > 1000  # the imported modules' objects, at least
    # What existed is out of every generation the collector walks.
    young = {id(o) for generation in range(3) for o in gc.get_objects(generation)}
    assert not any(id(o) in young for o in made_before[1:])


def _collector_after(code: str) -> dict[str, object]:
    """gc's thresholds and frozen count in a fresh interpreter after ``code`` ran."""
    probe = (
        "import gc, json, django; django.setup(); "
        f"{code}; "
        "print(json.dumps({'thresholds': gc.get_threshold(), 'frozen': gc.get_freeze_count()}))"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={
            "DJANGO_SETTINGS_MODULE": "config.settings_test",
            "PATH": "/usr/bin:/bin",
        },
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_each_celery_pool_process_tunes_its_collector_when_it_starts() -> None:
    untouched = _collector_after("import config.celery")
    started = _collector_after(
        "import config.celery; from celery.signals import worker_process_init; "
        "worker_process_init.send(sender=None)"
    )

    assert untouched == {"thresholds": [700, 10, 10], "frozen": 0}
    assert started["thresholds"] == list(THRESHOLDS)
    assert int(str(started["frozen"])) > 10_000  # Django and Celery, loaded before


def test_each_gunicorn_worker_tunes_its_collector_once_the_app_is_loaded() -> None:
    loaded = _collector_after(
        "from config import gunicorn, wsgi; gunicorn.post_worker_init(worker=None)"
    )

    assert loaded["thresholds"] == list(THRESHOLDS)
    assert int(str(loaded["frozen"])) > 10_000
