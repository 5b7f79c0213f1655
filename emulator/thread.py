"""The emulator on a real socket in a background thread, for tests and benchmarks."""

from __future__ import annotations

import asyncio
import threading

from aiohttp import web

from emulator.app import BACKLOG, FAULTS, STATS, Faults, Stats, make_app


class EmulatorThread:
    """The emulator on a real socket in a background thread (tests, benchmarks).

    ``with EmulatorThread(token="t") as emu: emu.url, emu.faults, emu.stats``
    """

    def __init__(
        self, *, token: str = "", faults: Faults | None = None, seed: int | None = 1
    ) -> None:
        self.app = make_app(token=token, faults=faults, seed=seed)
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    @property
    def faults(self) -> Faults:
        return self.app[FAULTS]

    @property
    def stats(self) -> Stats:
        return self.app[STATS]

    def __enter__(self) -> EmulatorThread:
        started = threading.Event()

        async def start() -> None:
            self._runner = web.AppRunner(self.app, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=BACKLOG)
            await site.start()
            port = self._runner.addresses[0][1]
            self.url = f"http://127.0.0.1:{port}"
            started.set()

        def serve() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(start())
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="gateway-emulator", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the emulator did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
