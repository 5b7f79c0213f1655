"""An emulator of the external sending API (SPEC section 5), for `make run` and tests.

``POST /send/{msgId}`` with ``Authorization: Bearer <GATEWAY_TOKEN>`` and the JSON body
``{"id": msgId, "phone": 79001234567, "text": "..."}`` answers ``{"code": 0, "message":
"OK"}``. It checks the token (when one is configured) and validates the body strictly,
answering 400 with a reason otherwise. ``GET /stats`` reports deliveries and duplicate
``msgId``s; ``POST /reset`` clears them.

Run: ``python -m gateway.emulator --port 8001`` (``make gateway``).
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

logger = logging.getLogger("gateway.emulator")


@dataclass
class Deliveries:
    by_id: Counter[int] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.by_id.values())

    @property
    def duplicates(self) -> int:
        return sum(n - 1 for n in self.by_id.values() if n > 1)


STATE = web.AppKey("state", Deliveries)
TOKEN = web.AppKey("token", str)


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


async def send(request: web.Request) -> web.Response:
    token = request.app[TOKEN]
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return web.json_response({"code": 401, "message": "bad token"}, status=401)
    try:
        msg_id = int(request.match_info["msg_id"])
    except ValueError:
        return _bad_request("msgId must be an integer")
    try:
        body = await request.json()
    except ValueError:
        return _bad_request("body is not JSON")
    reason = _validate_body(body, msg_id)
    if reason:
        return _bad_request(reason)
    request.app[STATE].by_id[msg_id] += 1
    return web.json_response({"code": 0, "message": "OK"})


async def stats(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return web.json_response(
        {
            "delivered": state.total,
            "unique": len(state.by_id),
            "duplicates": state.duplicates,
        }
    )


async def reset(request: web.Request) -> web.Response:
    request.app[STATE].by_id.clear()
    return web.json_response({"ok": True})


def make_app(*, token: str = "") -> web.Application:
    app = web.Application()
    app[STATE] = Deliveries()
    app[TOKEN] = token
    app.router.add_post("/send/{msg_id}", send)
    app.router.add_get("/stats", stats)
    app.router.add_post("/reset", reset)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GATEWAY_PORT", "8001")))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s gateway: %(message)s")
    token = os.environ.get("GATEWAY_TOKEN", "")
    logger.info(
        "gateway emulator on http://%s:%s (token check %s)",
        args.host,
        args.port,
        "on" if token else "off",
    )
    web.run_app(make_app(token=token), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
