from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

ROOT = Path(__file__).resolve().parent
# Tests that start real processes (the service's, an identity provider, a browser): `make
# unit` leaves them out, `make test` runs them too.
END_TO_END = (
    ROOT / "e2e",
    ROOT / "accounts" / "tests" / "test_oidc_flow.py",
    ROOT / "core" / "tests" / "test_schemathesis.py",
    ROOT / "core" / "tests" / "test_generated_client.py",
)


def pytest_configure(config: pytest.Config) -> None:
    from django.conf import settings

    # The SQLite test database lives under DATA_DIR, which importing the settings does not make.
    Path(settings.DATA_DIR).mkdir(parents=True, exist_ok=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if any(item.path == p or p in item.path.parents for p in END_TO_END):
            item.add_marker(pytest.mark.e2e)


def user_with_role(username: str, role: str | None) -> Any:
    from accounts.roles import set_role

    user = get_user_model().objects.create_user(username=username, password="s3cret-pass")
    set_role(user, role)
    return user


def api_as(user: Any) -> APIClient:
    client = APIClient()
    access = RefreshToken.for_user(user).access_token
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


@pytest.fixture
def user(db: None) -> Any:
    """The API's everyday user: an operator (reads and writes, full phones)."""
    return user_with_role("operator", "operator")


@pytest.fixture
def viewer_api(db: None) -> APIClient:
    return api_as(user_with_role("viewer", "viewer"))


@pytest.fixture
def roleless_api(db: None) -> APIClient:
    return api_as(user_with_role("nobody", None))


@pytest.fixture
def admin_api(db: None) -> APIClient:
    return api_as(user_with_role("boss", "admin"))


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


@pytest.fixture
def api(user: Any) -> APIClient:
    """A client that sends a real JWT access token, as integrators do."""
    return api_as(user)


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    return django_capture_on_commit_callbacks


@pytest.fixture
def steady_scheduler(db: None) -> None:
    """The scheduler has been ticking without a gap for a while (so leases may lapse)."""
    from datetime import timedelta

    from django.utils import timezone

    from delivery.models import SchedulerState

    now = timezone.now()
    SchedulerState.objects.update_or_create(
        pk=1, defaults={"last_tick_at": now, "ticking_since": now - timedelta(minutes=5)}
    )


@pytest.fixture(autouse=True)
def _fresh_sign_in_counts() -> Any:
    """Sign-in failures are counted in Django's cache, which outlives a test's database:
    each test starts with none. (With Redis the cache has a database of its own, apart from
    the broker's, so clearing it touches nothing else.)"""
    from django.core.cache import cache

    yield
    with contextlib.suppress(Exception):  # a test without the database, or that stopped it
        cache.clear()
