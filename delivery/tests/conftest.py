from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from emulator.thread import EmulatorThread

TOKEN = "dispatch-test-token"


@pytest.fixture
def emulator(settings: Any) -> Iterator[EmulatorThread]:
    """The bundled emulator on a real socket, and settings for quick retries."""
    with EmulatorThread(token=TOKEN) as emu:
        settings.GATEWAY_URL = emu.url
        settings.GATEWAY_TOKEN = TOKEN
        settings.GATEWAY_TIMEOUT_SECONDS = 1.0
        settings.DELIVERY_BACKOFF_BASE_SECONDS = 0.01
        settings.DELIVERY_BACKOFF_CAP_SECONDS = 0.05
        settings.DISPATCH_TASK_SECONDS = 5.0
        settings.DISPATCH_IDLE_SECONDS = 0.1
        yield emu
