"""A plain aiohttp client: no database, no service code, only requests to the gateway.

Always a process of its own, apart from the benchmark's, where benchmark 7's API load runs
in a thread and would take the interpreter's lock from it. One of them, 200 requests in
flight on asyncio's loop with CPython's collector defaults (nobody tuned it), measures the
raw limit (``bench.harness.raw_run``). Several at once are laid out as the dispatchers
(one process per dispatch slot, ``DISPATCH_MAX_IN_FLIGHT`` requests in flight each,
uvloop, the garbage collector set as the service sets it): what aiohttp itself reaches at
a given gateway latency on this machine, the ceiling of any dispatcher built on it
(``bench.harness.raw_run_as_dispatchers``). The collector matters: with CPython's defaults,
a thousand requests in flight, each alive for the gateway's 200 ms, are promoted and walked
again and again (two such clients: 5,041 req/s at 0.183 ms of CPU a request, against 5,721
at 0.131 with the collector off).

    GATEWAY_TOKEN=secret python -m bench.plain_client --url http://127.0.0.1:8101 \\
        --requests 30000 --in-flight 1000 --first-id 1 --start-at 1765000000.0

prints one JSON line: when it started and ended (epoch seconds), the CPU its loop used, and
the loop and collector thresholds it ran with.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import time

import aiohttp
import uvloop

from core.collector import tune_for_service


async def send(url: str, token: str, *, requests: int, in_flight: int, first_id: int = 1) -> None:
    """``requests`` messages (ids from ``first_id``) to ``url``, ``in_flight`` at once."""
    headers = {"Authorization": f"Bearer {token}"}
    connector = aiohttp.TCPConnector(limit=in_flight)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
        ids = iter(range(first_id, first_id + requests))

        async def sender() -> None:
            for i in ids:
                body = {"id": i, "phone": 79000000000, "text": "limit"}
                async with session.post(f"{url}/send/{i}", json=body) as response:
                    await response.read()
                    assert response.status == 200, response.status

        await asyncio.gather(*(sender() for _ in range(in_flight)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--requests", type=int, required=True)
    parser.add_argument("--in-flight", type=int, required=True)
    parser.add_argument("--first-id", type=int, default=1)
    parser.add_argument("--start-at", type=float, default=0.0, help="epoch seconds: start then")
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    parser.add_argument(
        "--collector",
        choices=["service", "default"],
        default="service",
        help="service: set as every worker process sets it; default: CPython's",
    )
    args = parser.parse_args(argv)
    token = os.environ.get("GATEWAY_TOKEN", "")  # from the environment: not in `ps`
    if args.collector == "service":
        tune_for_service()  # as every worker process is, once started
    time.sleep(max(0.0, args.start_at - time.time()))  # every process starts together
    started, cpu = time.time(), time.thread_time()
    sending = send(
        args.url.rstrip("/"),
        token,
        requests=args.requests,
        in_flight=args.in_flight,
        first_id=args.first_id,
    )
    if args.loop == "uvloop":
        uvloop.run(sending)
    else:
        asyncio.run(sending)
    done = {
        "started": started,
        "ended": time.time(),
        "cpu": time.thread_time() - cpu,
        "loop": args.loop,
        "collector": gc.get_threshold(),
    }
    sys.stdout.write(json.dumps(done) + "\n")


if __name__ == "__main__":
    main()
