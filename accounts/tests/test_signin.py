"""Sign-in throttling (SPEC 8.1): per username and per address, shared through the cache."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client as Browser
from rest_framework.test import APIClient

from accounts import signin

pytestmark = pytest.mark.django_db

TOKEN = "/api/auth/token/"


def guess(
    client: APIClient, password: str, *, address: str = "10.0.0.1", user: str = "operator"
) -> Any:
    return client.post(
        TOKEN, {"username": user, "password": password}, format="json", REMOTE_ADDR=address
    )


def test_ten_wrong_passwords_lock_the_username_even_for_the_right_one(
    anon: APIClient, user: Any
) -> None:
    answered = [guess(anon, f"wrong-{n}").status_code for n in range(12)]
    print(f"\nguesses answered before the 429: {answered.index(429)}")
    assert answered[:10] == [401] * 10
    assert answered[10:] == [429, 429]
    right = guess(anon, "s3cret-pass")
    assert right.status_code == 429
    assert 1 <= int(right["Retry-After"]) <= signin.WINDOW_SECONDS
    # Another username from the same address is not locked by these ten.
    assert guess(anon, "x", user="someone-else").status_code == 401


def test_one_address_gets_at_most_a_hundred_failures(anon: APIClient, user: Any) -> None:
    for n in range(signin.PER_ADDRESS):
        assert guess(anon, "x", user=f"user-{n}", address="10.9.9.9").status_code == 401
    assert guess(anon, "s3cret-pass", address="10.9.9.9").status_code == 429
    assert guess(anon, "s3cret-pass", address="10.1.1.1").status_code == 200


def test_the_window_ends(anon: APIClient, user: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    for n in range(10):
        guess(anon, f"wrong-{n}")
    assert guess(anon, "s3cret-pass").status_code == 429
    later = time.time() + signin.WINDOW_SECONDS + 1
    from django.core.cache import cache

    for key in list(_signin_keys("operator", "10.0.0.1")):
        cache.delete(key)  # what the cache's own expiry does after WINDOW_SECONDS
    monkeypatch.setattr(signin.time, "time", lambda: later)
    assert guess(anon, "s3cret-pass").status_code == 200


def _signin_keys(username: str, address: str) -> list[str]:
    user_key, addr_key = signin._key("user", username), signin._key("addr", address)
    return [user_key, f"{user_key}:since", addr_key, f"{addr_key}:since"]


def test_the_admin_login_follows_the_same_rule(admin_user: Any) -> None:
    browser = Browser(REMOTE_ADDR="10.2.2.2")
    for n in range(10):
        page = browser.post("/admin/login/", {"username": "admin", "password": f"bad-{n}"})
        assert b"Too many failed sign-ins" not in page.content
    page = browser.post("/admin/login/", {"username": "admin", "password": "password"})
    assert page.status_code == 200
    assert b"Too many failed sign-ins" in page.content
    # The API's token route counts the same failures.
    api = APIClient()
    answer = api.post(
        TOKEN, {"username": "admin", "password": "password"}, format="json", REMOTE_ADDR="10.3.3.3"
    )
    assert answer.status_code == 429
