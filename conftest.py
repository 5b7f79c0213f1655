from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken


@pytest.fixture
def user(db: None) -> Any:
    return get_user_model().objects.create_user(username="operator", password="s3cret-pass")


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


@pytest.fixture
def api(user: Any) -> APIClient:
    """A client that sends a real JWT access token, as integrators do."""
    client = APIClient()
    access = RefreshToken.for_user(user).access_token
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    return django_capture_on_commit_callbacks
