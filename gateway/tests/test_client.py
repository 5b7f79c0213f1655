"""The gateway client against the bundled emulator over a real socket."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from emulator.app import Faults
from emulator.thread import EmulatorThread
from gateway.client import (
    CredentialsError,
    Delivered,
    GatewayClient,
    PermanentError,
    TransientError,
)

TOKEN = "gateway-test-token"


@pytest.fixture
def emulator() -> Iterator[EmulatorThread]:
    with EmulatorThread(token=TOKEN) as emu:
        yield emu


def send(url: str, token: str = TOKEN, timeout: float = 2.0, **kwargs: Any) -> Delivered:
    async def go() -> Delivered:
        async with GatewayClient(url, token, timeout=timeout) as gateway:
            return await gateway.send(**kwargs)

    return asyncio.run(go())


def test_a_message_is_delivered_with_the_protocols_exact_body(emulator: EmulatorThread) -> None:
    result = send(emulator.url, msg_id=42, phone="79001234567", text="Привет")

    assert result.status == 200
    delivery = emulator.stats.deliveries[0]
    assert (delivery.id, delivery.phone, delivery.text) == (42, 79001234567, "Привет")
    assert emulator.stats.as_dict()["delivered"] == 1


def test_a_wrong_token_is_a_credentials_error(emulator: EmulatorThread) -> None:
    with pytest.raises(CredentialsError):
        send(emulator.url, token="wrong", msg_id=1, phone="79001234567", text="x")
    assert emulator.stats.as_dict()["delivered"] == 0


@pytest.mark.parametrize(
    ("fault", "rate_limited"),
    [("error_rate", False), ("garbage_rate", False), ("rate_limit_rate", True)],
)
def test_injected_faults_are_transient_and_deliver_nothing(
    emulator: EmulatorThread, fault: str, rate_limited: bool
) -> None:
    emulator.faults.update({fault: 1.0, "retry_after": 2})

    for msg_id in range(1, 6):
        with pytest.raises(TransientError) as caught:
            send(emulator.url, msg_id=msg_id, phone="79001234567", text="x")
        assert caught.value.rate_limited is rate_limited
    if rate_limited:
        assert caught.value.retry_after == 2.0
    assert emulator.stats.as_dict()["delivered"] == 0


def test_a_hang_is_a_timeout(emulator: EmulatorThread) -> None:
    emulator.faults.update({"hang_rate": 1.0, "hang_seconds": 1})

    with pytest.raises(TransientError, match="timeout"):
        send(emulator.url, timeout=0.3, msg_id=1, phone="79001234567", text="x")


def test_only_the_requests_past_their_deadline_time_out(emulator: EmulatorThread) -> None:
    """One watchdog keeps the timeout of every request in flight: the hung ones time out,
    the others are answered, and each request is given up at most a sweep after its
    deadline."""
    emulator.faults.update({"hang_rate": 0.5, "hang_seconds": 3})

    async def go() -> tuple[list[BaseException | Delivered], float]:
        loop = asyncio.get_running_loop()
        async with GatewayClient(emulator.url, TOKEN, timeout=0.5) as gateway:
            started = loop.time()
            results = await asyncio.gather(
                *(gateway.send(msg_id=i, phone="79001234567", text="x") for i in range(1, 41)),
                return_exceptions=True,
            )
            return results, loop.time() - started

    results, seconds = asyncio.run(go())

    timeouts = [r for r in results if isinstance(r, TransientError)]
    assert all(str(r) == "timeout" for r in timeouts)
    assert len(timeouts) == emulator.stats.faults["hang"] > 0
    assert sum(isinstance(r, Delivered) for r in results) == 40 - len(timeouts)
    assert 0.5 <= seconds < 1.5  # the deadline and a sweep (timeout/10), not the 3 s hang


def test_cancelling_a_request_is_not_a_timeout(emulator: EmulatorThread) -> None:
    """Its owner's cancel (a dispatcher shutting down) stays a cancel."""
    emulator.faults.update({"hang_rate": 1.0, "hang_seconds": 3})

    async def go() -> None:
        async with GatewayClient(emulator.url, TOKEN, timeout=0.3) as gateway:
            request = asyncio.create_task(gateway.send(msg_id=1, phone="79001234567", text="x"))
            await asyncio.sleep(0.1)  # before its deadline
            request.cancel()
            await request

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(go())


def test_an_outage_is_a_connection_error(emulator: EmulatorThread) -> None:
    emulator.faults.update({"outage": True})

    with pytest.raises(TransientError, match="connection error"):
        send(emulator.url, msg_id=1, phone="79001234567", text="x")


def test_nobody_listening_is_a_connection_error() -> None:
    with pytest.raises(TransientError, match="connection error"):
        send("http://127.0.0.1:1", msg_id=1, phone="79001234567", text="x")


def test_a_rejected_number_is_permanent(emulator: EmulatorThread) -> None:
    emulator.faults.update({"reject_rate": 1.0})

    with pytest.raises(PermanentError, match="400"):
        send(emulator.url, msg_id=1, phone="79001234567", text="x")


def test_the_client_sends_exactly_the_documented_request() -> None:
    """A bare server records what arrives: path, headers and JSON."""
    seen: list[dict[str, Any]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(
            {
                "path": request.path,
                "auth": request.headers.get("Authorization"),
                "content_type": request.content_type,
                "json": await request.json(),
            }
        )
        return web.json_response({"code": 0, "message": "OK"})

    async def go() -> None:
        app = web.Application()
        app.router.add_post("/v1/send/{id}", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            async with GatewayClient(f"http://127.0.0.1:{port}/v1/", "tok") as gateway:
                await gateway.send(msg_id=7, phone="79001234567", text="hi")
        finally:
            await runner.cleanup()

    asyncio.run(go())

    assert seen == [
        {
            "path": "/v1/send/7",
            "auth": "Bearer tok",
            "content_type": "application/json",
            "json": {"id": 7, "phone": 79001234567, "text": "hi"},
        }
    ]


def test_the_emulator_control_rejects_unknown_and_bad_settings() -> None:
    faults = Faults()
    with pytest.raises(ValueError, match="unknown"):
        faults.update({"colour": 1})
    with pytest.raises(ValueError, match="non-negative"):
        faults.update({"error_rate": -1})
    with pytest.raises(ValueError, match="true or false"):
        faults.update({"outage": 1})


def test_reset_clears_the_counts_and_restores_the_starting_faults() -> None:
    with EmulatorThread(token=TOKEN, faults=Faults(latency_ms=5, retry_after=2)) as emulator:
        send(emulator.url, msg_id=1, phone="79001234567", text="x")
        emulator.faults.update({"reject_rate": 1.0, "hang_seconds": 3, "latency_ms": 0})

        async def reset() -> dict[str, Any]:
            async with (
                aiohttp.ClientSession() as session,
                session.post(f"{emulator.url}/reset") as answer,
            ):
                return dict(await answer.json())

        assert asyncio.run(reset()) == {"ok": True}
        assert emulator.faults == Faults(latency_ms=5, retry_after=2)
        assert (emulator.stats.requests, sum(emulator.stats.by_id.values())) == (0, 0)
        assert send(emulator.url, msg_id=2, phone="79001234567", text="x")
