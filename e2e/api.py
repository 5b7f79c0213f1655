"""A small client of the service's HTTP API for end-to-end tests and benchmarks."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any


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
