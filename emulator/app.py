"""The emulator's aiohttp application: the sending API, its faults and its counters."""

from __future__ import annotations

import asyncio
import hmac
import logging
import random
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from aiohttp import web

# Pending connections the listening socket queues (aiohttp's default is 128): a dispatcher
# opens hundreds at once when it starts, and a SYN dropped from a full queue waits a second
# for its retransmission. Real gateways sit behind servers with larger queues (nginx: 511).
BACKLOG = 1024

logger = logging.getLogger("emulator")


@dataclass
class Faults:
    latency_ms: float = 0.0
    latency_jitter: float = 0.5  # latency is uniform in latency_ms * (1 ± jitter)
    error_rate: float = 0.0
    garbage_rate: float = 0.0
    hang_rate: float = 0.0
    hang_seconds: float = 30.0
    rate_limit_rate: float = 0.0
    retry_after: float = 1.0
    reject_rate: float = 0.0
    outage: bool = False

    def update(self, changes: dict[str, Any]) -> None:
        known = {f.name: f.type for f in fields(self)}
        unknown = sorted(set(changes) - set(known))
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(unknown)}")
        for name, value in changes.items():
            current = getattr(self, name)
            if isinstance(current, bool):
                if not isinstance(value, bool):
                    raise ValueError(f"{name} must be true or false")
            elif not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative number")
            setattr(self, name, value)


@dataclass
class Delivery:
    id: int
    phone: int
    text: str
    at: float


@dataclass
class Stats:
    requests: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    by_id: Counter[int] = field(default_factory=Counter)
    deliveries: list[Delivery] = field(default_factory=list)
    keep_deliveries: bool = True
    first_delivery_at: float | None = None
    last_delivery_at: float | None = None

    def clear(self) -> None:
        """Back to zero, in place (the running application's state cannot be replaced)."""
        fresh = Stats(keep_deliveries=self.keep_deliveries)
        for name in (f.name for f in fields(self)):
            setattr(self, name, getattr(fresh, name))

    def as_dict(self) -> dict[str, Any]:
        delivered = sum(self.by_id.values())
        return {
            "requests": self.requests,
            "delivered": delivered,
            "unique": len(self.by_id),
            "duplicates": delivered - len(self.by_id),
            "faults": dict(self.faults),
            "first_delivery_at": self.first_delivery_at,
            "last_delivery_at": self.last_delivery_at,
        }


FAULTS = web.AppKey("faults", Faults)
STARTING_FAULTS = web.AppKey("starting_faults", Faults)
STATS = web.AppKey("stats", Stats)
TOKEN = web.AppKey("token", str)
RNG = web.AppKey("rng", random.Random)

OK_BODY = {"code": 0, "message": "OK"}
GARBAGE = [
    web.Response(status=200, text="<html>Service temporarily unavailable</html>"),
    web.json_response({"code": 1, "message": "internal queue full"}),
    web.json_response({"message": "OK"}),
    web.Response(status=200, body=b""),
]


def _bad_request(reason: str) -> web.Response:
    return web.json_response({"code": 400, "message": reason}, status=400)


def _validate_body(body: Any, msg_id: int) -> str | None:
    if not isinstance(body, dict):
        return "body must be a JSON object"
    if set(body) != {"id", "phone", "text"}:
        return "body must have exactly the keys id, phone, text"
    if type(body["id"]) is not int or body["id"] != msg_id:
        return "id must be an integer equal to the path's msgId"
    phone = body["phone"]
    if type(phone) is not int or not (70000000000 <= phone <= 79999999999):
        return "phone must be an integer of 11 digits starting with 7"
    if not isinstance(body["text"], str) or not body["text"]:
        return "text must be a non-empty string"
    return None


async def _latency(faults: Faults, rng: random.Random) -> None:
    if faults.latency_ms > 0:
        spread = faults.latency_ms * faults.latency_jitter
        await asyncio.sleep(
            max(0.0, rng.uniform(faults.latency_ms - spread, faults.latency_ms + spread)) / 1000
        )


def _draw_fault(faults: Faults, rng: random.Random) -> str | None:
    for name, rate in (
        ("hang", faults.hang_rate),
        ("rate_limit", faults.rate_limit_rate),
        ("error", faults.error_rate),
        ("garbage", faults.garbage_rate),
        ("reject", faults.reject_rate),
    ):
        if rate > 0 and rng.random() < rate:
            return name
    return None


async def send(request: web.Request) -> web.StreamResponse:
    app = request.app
    faults, stats, rng = app[FAULTS], app[STATS], app[RNG]
    stats.requests += 1
    if faults.outage:
        stats.faults["outage"] += 1
        if request.transport is not None:
            request.transport.abort()
        raise asyncio.CancelledError
    token = app[TOKEN]
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return web.json_response({"code": 401, "message": "bad token"}, status=401)
    try:
        msg_id = int(request.match_info["msg_id"])
        body = await request.json()
    except ValueError:
        return _bad_request("msgId must be an integer and the body JSON")
    reason = _validate_body(body, msg_id)
    if reason:
        return _bad_request(reason)
    arrived = time.time()  # a delivery is dated when the request arrived
    fault = _draw_fault(faults, rng)
    if fault == "hang":
        stats.faults["hang"] += 1
        await asyncio.sleep(faults.hang_seconds)
        return web.json_response({"code": 504, "message": "hung"}, status=504)
    await _latency(faults, rng)
    if fault is not None:
        stats.faults[fault] += 1
    if fault == "rate_limit":
        return web.json_response(
            {"code": 429, "message": "slow down"},
            status=429,
            headers={"Retry-After": f"{faults.retry_after:g}"},
        )
    if fault == "error":
        status = rng.choice([500, 502, 503, 504])
        return web.json_response({"code": status, "message": "server error"}, status=status)
    if fault == "garbage":
        template = rng.choice(GARBAGE)
        return web.Response(
            status=200, body=template.body, content_type=template.content_type or "text/plain"
        )
    if fault == "reject":
        return _bad_request("the operator rejected this number")
    stats.by_id[msg_id] += 1
    if stats.first_delivery_at is None:
        stats.first_delivery_at = arrived
    stats.last_delivery_at = arrived
    if stats.keep_deliveries:
        stats.deliveries.append(Delivery(msg_id, body["phone"], body["text"], arrived))
    return web.json_response(OK_BODY)


async def control(request: web.Request) -> web.Response:
    faults = request.app[FAULTS]
    if request.method == "POST":
        try:
            changes = await request.json()
            if not isinstance(changes, dict):
                raise ValueError("send a JSON object of settings")
            faults.update(changes)
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        logger.info("faults changed: %s", changes)
    return web.json_response(asdict(faults))


async def stats_view(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATS].as_dict())


async def deliveries_view(request: web.Request) -> web.Response:
    text = request.query.get("text")
    rows = [asdict(d) for d in request.app[STATS].deliveries if text is None or d.text == text]
    return web.json_response(rows)


async def reset(request: web.Request) -> web.Response:
    # In place: whoever holds these objects (EmulatorThread.stats, .faults) sees the reset.
    request.app[STATS].clear()
    request.app[FAULTS].update(asdict(request.app[STARTING_FAULTS]))
    return web.json_response({"ok": True})


def make_app(
    *,
    token: str = "",
    faults: Faults | None = None,
    seed: int | None = None,
    keep_deliveries: bool = True,
) -> web.Application:
    app = web.Application()
    app[FAULTS] = faults or Faults()
    app[STARTING_FAULTS] = replace(app[FAULTS])
    app[STATS] = Stats(keep_deliveries=keep_deliveries)
    app[TOKEN] = token
    app[RNG] = random.Random(seed)  # noqa: S311 -- fault injection, not crypto
    app.router.add_post("/send/{msg_id}", send)
    app.router.add_route("*", "/control", control)
    app.router.add_get("/stats", stats_view)
    app.router.add_get("/deliveries", deliveries_view)
    app.router.add_post("/reset", reset)
    return app
