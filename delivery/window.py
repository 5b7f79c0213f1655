"""How many requests a dispatcher keeps in flight: as few as keep the sending going.

Each request in flight holds a connection, on our side and on the gateway's. At latency 0 a
hundred or so keep a dispatcher busy, and a thousand only cost both sides more CPU per
request (benchmark 2: the stub's CPU per request 0.100 ms with 1,000 in flight per
dispatcher, 0.068 ms with 150). A slow gateway needs many more (Little's law: 2,500 msg/s at
200 ms need 500 in flight). So each dispatcher starts with ``START`` and, every
``STEP_SECONDS``, doubles its window (up to ``DISPATCH_MAX_IN_FLIGHT``) when:

- the window was full: claimed messages waited for room in it, and
- its thread was mostly idle: it wanted the CPU (ran, or was runnable and waited for a core,
  from ``/proc/thread-self/schedstat``) less than ``IDLE_BELOW`` of the time — the requests
  were waiting on the gateway, not on this process or this machine.

It never shrinks within a dispatcher's run; each run starts small again, so a gateway that
got faster is found again at the next one. When the gateway itself is the limit (its own
CPU), the window grows to the maximum, as a fixed window would be.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

START = 128
STEP_SECONDS = 0.1
IDLE_BELOW = 0.5

_SCHEDSTAT = Path("/proc/thread-self/schedstat")


def cpu_wanted_seconds() -> float:
    """Seconds this thread ran or waited to run (Linux); elsewhere, the seconds it ran."""
    try:
        running_ns, waiting_ns = _SCHEDSTAT.read_text().split()[:2]
    except (OSError, ValueError):
        return time.thread_time()
    return (int(running_ns) + int(waiting_ns)) / 1e9


class Window:
    def __init__(
        self,
        maximum: int,
        *,
        start: int = START,
        clock: Callable[[], float] = time.monotonic,
        cpu_wanted: Callable[[], float] = cpu_wanted_seconds,
    ) -> None:
        self.maximum = maximum
        self.size = min(start, maximum)
        self._clock, self._cpu_wanted = clock, cpu_wanted
        self._step_at, self._wanted_at = clock(), cpu_wanted()
        self._full = False

    def room(self, in_flight: int, waiting: int) -> int:
        """How many of ``waiting`` messages may start now."""
        room = max(self.size - in_flight, 0)
        if waiting > room:
            self._full = True
        return min(room, waiting)

    def step(self) -> None:
        """Called often; every ``STEP_SECONDS`` decides whether the window grows."""
        if self.size >= self.maximum:
            return
        now = self._clock()
        elapsed = now - self._step_at
        if elapsed < STEP_SECONDS:
            return
        wanted = self._cpu_wanted()
        busy = (wanted - self._wanted_at) / elapsed
        if self._full and busy < IDLE_BELOW:
            self.size = min(self.size * 2, self.maximum)
        self._step_at, self._wanted_at, self._full = now, wanted, False
