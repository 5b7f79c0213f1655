"""How many requests a dispatcher keeps in flight: as few as keep the sending going.

Each request in flight holds a connection, on our side and on the gateway's. At latency 0 a
hundred or so keep a dispatcher busy, and a thousand only cost both sides more CPU per
request (benchmark 2: the stub's CPU per request 0.100 ms with 1,000 in flight per
dispatcher, 0.068 ms with 150). A slow gateway needs many more (Little's law: 2,500 msg/s at
200 ms need 500 in flight). So each dispatcher starts with ``START`` and, every
``STEP_SECONDS``, doubles its window (up to ``DISPATCH_MAX_IN_FLIGHT``) when the window was
full (claimed messages waited for room in it) and either sign says more requests in flight
would go faster:

- the answers' time is the gateway's: the requests that finished in the step took on average
  less than ``INFLATED`` times the fastest answer of this run. When this process or this
  machine is the limit, more requests only queue longer (at latency 0, 128 in flight already
  take ~50 ms each, the fastest ~1 ms); when the gateway's latency is, their time stays put
  (200 ms ± 50 %: about twice the fastest, whatever the window). Or
- its thread was mostly idle: it wanted the CPU (ran, or was runnable and waited for a core,
  from ``/proc/thread-self/schedstat``) less than ``IDLE_BELOW`` of the time — the requests
  were waiting on the gateway, not on this process or this machine. This covers a gateway
  whose answers spread too widely for the first sign (a few fast, most slow).

Only the first sign held on a busy machine: at 200 ms ± 50 % with both cores shared by two
dispatchers, the stub and PostgreSQL, each thread wanted the CPU over half the time and the
window stopped short, capping dispatch at 0.49 of the raw limit with 12 % of the CPU idle.

It never shrinks within a dispatcher's run; each run starts small again, so a gateway that
got faster is found again at the next one. When the gateway itself is the limit (its own
CPU), the window grows to the maximum, as a fixed window would be.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

START = 128
STEP_SECONDS = 0.1
IDLE_BELOW = 0.5
INFLATED = 3.0

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
        self._fastest = math.inf  # the quickest answer of this run, in seconds
        self._took = 0.0  # the answers of this step: their seconds, and how many
        self._answers = 0

    def room(self, in_flight: int, waiting: int) -> int:
        """How many of ``waiting`` messages may start now."""
        room = max(self.size - in_flight, 0)
        if waiting > room:
            self._full = True
        return min(room, waiting)

    def answered(self, seconds: float) -> None:
        """A request got its answer after ``seconds``."""
        self._took += seconds
        self._answers += 1
        if seconds < self._fastest:
            self._fastest = seconds

    def step(self) -> None:
        """Called often; every ``STEP_SECONDS`` decides whether the window grows."""
        if self.size >= self.maximum:
            return
        now = self._clock()
        elapsed = now - self._step_at
        if elapsed < STEP_SECONDS:
            return
        wanted = self._cpu_wanted()
        if self._full and (
            self._gateway_bound() or (wanted - self._wanted_at) < IDLE_BELOW * elapsed
        ):
            self.size = min(self.size * 2, self.maximum)
        self._step_at, self._wanted_at, self._full = now, wanted, False
        self._took, self._answers = 0.0, 0

    def _gateway_bound(self) -> bool:
        """The step's answers took about what the fastest did: the gateway's own time."""
        return self._answers > 0 and self._took < INFLATED * self._fastest * self._answers
