"""Tokens (SPEC 8.1): a refresh rotates, logout ends a refresh token, a password change or a
deactivation ends every token issued before it."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

TOKEN, REFRESH, LOGOUT = "/api/auth/token/", "/api/auth/token/refresh/", "/api/auth/logout/"


def pair(anon: APIClient) -> dict[str, str]:
    answer = anon.post(TOKEN, {"username": "operator", "password": "s3cret-pass"}, format="json")
    assert answer.status_code == 200, answer.content
    return answer.json()


def reads(access: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client.get("/api/clients/").status_code


def test_a_refresh_rotates_and_the_used_one_is_refused(anon: APIClient, user: Any) -> None:
    first = pair(anon)
    rotated = anon.post(REFRESH, {"refresh": first["refresh"]}, format="json")
    assert rotated.status_code == 200
    assert rotated.json()["refresh"] != first["refresh"]
    again = anon.post(REFRESH, {"refresh": first["refresh"]}, format="json")
    assert again.status_code == 401
    assert reads(rotated.json()["access"]) == 200


def test_logout_answers_204_and_the_refresh_token_is_refused(anon: APIClient, user: Any) -> None:
    tokens = pair(anon)
    assert anon.post(LOGOUT, {"refresh": tokens["refresh"]}, format="json").status_code == 204
    assert anon.post(REFRESH, {"refresh": tokens["refresh"]}, format="json").status_code == 401
    assert anon.post(LOGOUT, {"refresh": "garbage"}, format="json").status_code == 401
    assert anon.post(LOGOUT, {}, format="json").status_code == 400


def test_a_password_change_ends_every_token_issued_before(anon: APIClient, user: Any) -> None:
    tokens = pair(anon)
    assert reads(tokens["access"]) == 200
    user.set_password("a-new-pass-456")
    user.save()
    assert reads(tokens["access"]) == 401
    assert anon.post(REFRESH, {"refresh": tokens["refresh"]}, format="json").status_code == 401
    fresh = anon.post(TOKEN, {"username": "operator", "password": "a-new-pass-456"}, format="json")
    assert reads(fresh.json()["access"]) == 200


def test_deactivating_a_user_ends_their_tokens(anon: APIClient, user: Any) -> None:
    tokens = pair(anon)
    user.is_active = False
    user.save()
    assert reads(tokens["access"]) == 401
    assert anon.post(REFRESH, {"refresh": tokens["refresh"]}, format="json").status_code == 401
