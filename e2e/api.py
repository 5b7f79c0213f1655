"""A small client of the service's HTTP API for end-to-end tests and benchmarks."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any


def create_user(
    username: str, password: str, *, admin: bool = False, role: str | None = "operator"
) -> None:
    """A user the stack's processes can sign in as (the database is the test's or the
    benchmark's), an operator unless said otherwise. Hashed with PBKDF2: the web server runs
    the real settings, not the tests' fast hasher."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    from accounts.roles import set_role

    user_model = get_user_model()
    user_model.objects.filter(username=username).delete()
    user = user_model(username=username, is_staff=admin, is_superuser=admin)
    user.password = make_password(password, hasher="pbkdf2_sha256")
    user.save()
    if not admin:
        set_role(user, role)


def api_as_new_user(base_url: str, username: str, password: str) -> Api:
    create_user(username, password)
    return Api(base_url, username, password)


class Api:
    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url.rstrip("/")
        tokens = self.call("POST", "/api/auth/token/", {"username": username, "password": password})
        self.token = tokens["access"]

    def call(self, method: str, path: str, body: Any = None) -> Any:
        status, payload, _ = self.timed(method, path, body)
        if status >= 400:
            raise AssertionError(f"{method} {path} -> {status}: {payload}")
        return payload

    def timed(self, method: str, path: str, body: Any = None) -> tuple[int, Any, float]:
        """(status, JSON body, seconds) of one request."""
        headers = {"Content-Type": "application/json"}
        if getattr(self, "token", None):
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.base_url}{path}", data=data, method=method, headers=headers
        )
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
                status = response.status
        except urllib.error.HTTPError as exc:
            raw, status = exc.read(), exc.code
        elapsed = time.perf_counter() - started
        return status, (json.loads(raw) if raw else None), elapsed
