"""A minimal gateway: the benchmarks' reference for the limit and the dispatch rows.

The bundled emulator (``emulator/``) injects faults and keeps every delivery for the tests,
which costs it CPU: a limit measured against it is low, and flatters every ratio. This stub
does what any gateway must and nothing more — checks the token, parses the JSON body,
answers ``{"code": 0}`` — plus three integers for the benchmark (deliveries, duplicates, the
last delivery's time) and an optional latency (200 ms ± 50 % for benchmark 3).
It speaks the emulator's ``/stats``, ``/control`` and ``/reset``, so a ``Stack`` drives
either. Plain aiohttp, default event loop: nobody tuned it.

    GATEWAY_TOKEN=secret python -m bench.stub --port 8101
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time
from typing import Any

from aiohttp import web

OK = json.dumps({"code": 0, "message": "OK"})


class State:
    def __init__(self) -> None:
        self.latency = 0.0
        self.jitter = 0.0
        self.clear()

    def clear(self) -> None:
        self.delivered = 0
        self.duplicates = 0
        self.last_delivery_at: float | None = None
        self.seen: set[int] = set()


def make_app(token: str) -> web.Application:
    state = State()
    expected = f"Bearer {token}" if token else None

    async def send(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != expected:
            return web.json_response({"code": 1, "message": "bad token"}, status=401)
        try:
            body = json.loads(await request.read())
            msg_id = int(body["id"])
        except (ValueError, KeyError, TypeError):
            return web.json_response({"code": 2, "message": "bad body"}, status=400)
        if state.latency:
            spread = state.latency * state.jitter
            await asyncio.sleep(max(0.0, state.latency + random.uniform(-spread, spread)))
        if msg_id in state.seen:
            state.duplicates += 1
        else:
            state.seen.add(msg_id)
            state.delivered += 1
        state.last_delivery_at = time.time()
        return web.Response(text=OK, content_type="application/json")

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "delivered": state.delivered,
                "duplicates": state.duplicates,
                "last_delivery_at": state.last_delivery_at,
            }
        )

    async def control(request: web.Request) -> web.Response:
        changes: dict[str, Any] = await request.json() if request.can_read_body else {}
        state.latency = float(changes.get("latency_ms", state.latency * 1000)) / 1000
        state.jitter = float(changes.get("latency_jitter", state.jitter))
        return web.json_response(
            {"latency_ms": state.latency * 1000, "latency_jitter": state.jitter}
        )

    async def reset(request: web.Request) -> web.Response:
        state.clear()
        state.latency = state.jitter = 0.0
        return web.json_response({"reset": True})

    app = web.Application()
    app.router.add_post("/send/{msg_id}", send)
    app.router.add_get("/stats", stats)
    app.router.add_route("*", "/control", control)
    app.router.add_post("/reset", reset)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8101)
    args = parser.parse_args(argv)
    token = os.environ.get("GATEWAY_TOKEN", "")  # from the environment: not in `ps`
    # The listening queue of the emulator's (and nginx's) size, not aiohttp's 128: see BACKLOG.
    web.run_app(
        make_app(token), host="127.0.0.1", port=args.port, print=None, access_log=None, backlog=1024
    )


if __name__ == "__main__":
    main()
