"""Sign-in throttling (SPEC 8.1), shared by every process through Django's cache (Redis with a
Redis broker, the database otherwise).

After ``PER_USERNAME`` failed sign-ins for one username within ``WINDOW_SECONDS``, that
username is refused — the right password too — until the window that began with its first
failure has passed; one client address gets at most ``PER_ADDRESS`` failures a window. The
token route answers 429 with ``Retry-After``; the admin's login page says how long to wait.
A refused attempt does not check the password at all, so a guesser also stops costing the
server ~0.3 s of CPU a guess.
"""

from __future__ import annotations

import hashlib
import time

from django.core.cache import cache
from django.http import HttpRequest

WINDOW_SECONDS = 15 * 60
PER_USERNAME = 10
PER_ADDRESS = 100


def _key(kind: str, value: str) -> str:
    return f"signin:{kind}:{hashlib.sha256(value.encode()).hexdigest()[:32]}"


def client_address(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def _wait(key: str, limit: int, now: float) -> int:
    failures = cache.get(key)
    if not failures or failures < limit:
        return 0
    since = cache.get(f"{key}:since") or now
    return max(1, int(since + WINDOW_SECONDS - now + 0.999))


def seconds_locked(username: str, address: str) -> int:
    """How long this username or address must wait before trying again (0: it may try)."""
    now = time.time()
    return max(
        _wait(_key("user", username), PER_USERNAME, now),
        _wait(_key("addr", address), PER_ADDRESS, now),
    )


def record_failure(username: str, address: str) -> None:
    now = time.time()
    for key in (_key("user", username), _key("addr", address)):
        # The window starts at the first failure and ends WINDOW_SECONDS later.
        if cache.add(f"{key}:since", now, timeout=WINDOW_SECONDS):
            cache.set(key, 0, timeout=WINDOW_SECONDS)
        try:
            cache.incr(key)
        except ValueError:  # expired between the two calls: a new window
            cache.set(key, 1, timeout=WINDOW_SECONDS)


def locked_message(seconds: int) -> str:
    minutes = max(1, round(seconds / 60))
    return f"Too many failed sign-ins: try again in about {minutes} minute(s)."
