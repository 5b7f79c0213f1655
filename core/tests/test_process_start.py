"""What each serving process does as it starts: warm up (gunicorn), then set the collector
(frozen heap; raised thresholds in the workers, CPython's in the web)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from core.collector import THRESHOLDS, tune_for_service, tune_for_web
from core.tests.probes import probe


@pytest.fixture
def restored_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def _in_any_generation(objects: list[Any]) -> bool:
    """Whether any of ``objects`` is still in a generation the collector walks."""
    young = {id(o) for generation in range(3) for o in gc.get_objects(generation)}
    return any(id(o) in young for o in objects)


def test_tuning_freezes_what_exists_and_raises_the_thresholds(restored_collector: None) -> None:
    gc.unfreeze()
    made_before = [object(), {"a": [1, 2]}]

    tune_for_service()

    assert gc.get_threshold() == THRESHOLDS
    assert gc.get_threshold()[0] > 700  # CPython's default, which the profile measured
    assert gc.get_freeze_count() > 1000  # the imported modules' objects, at least
    # What existed is out of every generation the collector walks.
    assert not _in_any_generation(made_before[1:])


def test_the_web_freezes_what_exists_and_keeps_the_thresholds(restored_collector: None) -> None:
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    made_before = [object(), {"a": [1, 2]}]

    tune_for_web()

    assert gc.get_threshold() == (700, 10, 10)  # short pauses: a request waits for each
    assert gc.get_freeze_count() > 1000
    assert not _in_any_generation(made_before[1:])


def _collector_after(code: str, **env: str) -> dict[str, Any]:
    """gc's thresholds and frozen count in a fresh interpreter after ``code`` ran, whether
    the URL patterns are loaded, and what it logged."""
    return probe(
        "import gc, io, logging; from django.urls import get_resolver; "
        "said = io.StringIO(); "
        "logging.getLogger('config').addHandler(logging.StreamHandler(said)); "
        f"{code}; "
        "print(json.dumps({'thresholds': gc.get_threshold(), 'frozen': gc.get_freeze_count(), "
        "'urls': 'url_patterns' in get_resolver().__dict__, 'said': said.getvalue()}))",
        env=env,
    )


def test_each_celery_pool_process_tunes_its_collector_when_it_starts() -> None:
    untouched = _collector_after("import config.celery")
    started = _collector_after(
        "import config.celery; from celery.signals import worker_process_init; "
        "worker_process_init.send(sender=None)"
    )

    assert (untouched["thresholds"], untouched["frozen"]) == ([700, 10, 10], 0)
    assert started["thresholds"] == list(THRESHOLDS)
    assert int(str(started["frozen"])) > 10_000  # Django and Celery, loaded before


def test_each_gunicorn_worker_warms_up_then_tunes_its_collector_once_the_app_is_loaded() -> None:
    cold = _collector_after("from config import gunicorn, wsgi")
    loaded = _collector_after(
        "from config import gunicorn, wsgi; gunicorn.post_worker_init(worker=None)"
    )

    assert cold["urls"] is False
    assert loaded["urls"] is True  # every URL module imported before the first request
    assert loaded["said"] == ""  # the broker was reached
    assert loaded["thresholds"] == cold["thresholds"] == [700, 10, 10]  # CPython's, kept
    assert loaded["frozen"] > cold["frozen"] + 10_000


def test_a_worker_starts_even_when_the_broker_is_down_and_says_so() -> None:
    loaded = _collector_after(
        "from config import gunicorn, wsgi; gunicorn.post_worker_init(worker=None)",
        CELERY_BROKER_URL="redis://127.0.0.1:1/0",
    )

    assert "broker not reachable at start" in loaded["said"]
    assert loaded["urls"] is True
    assert loaded["frozen"] > 10_000
