"""How many requests a dispatcher keeps in flight: as few as keep the sending going.

Each request in flight holds a connection, on our side and on the gateway's. At latency 0 a
hundred or so keep a dispatcher busy, and a thousand only cost both sides more CPU per
request (benchmark 2: the stub's CPU per request 0.100 ms with 1,000 in flight per
dispatcher, 0.068 ms with 150). A slow gateway needs many more (Little's law: 2,500 msg/s at
200 ms need 500 in flight). So each dispatcher starts with ``START`` and, every
``STEP_SECONDS``, doubles its window (up to ``DISPATCH_MAX_IN_FLIGHT``) when the window was
full (claimed messages waited for room in it) and either sign says more requests in flight
would go faster:

- its thread was mostly idle: it wanted the CPU (ran, or was runnable and waited for a core,
  from ``/proc/thread-self/schedstat``) less than ``IDLE_BELOW`` of the time — the requests
  were waiting on the gateway, not on this process or this machine. Or
- the last doubling did not slow the answers: requests started at this size took on
  average less than ``SLOWER_BY`` times what those started at the size before took (at
  least ``ENOUGH`` answers of each). Little's law: when the gateway's latency is the limit,
  twice the requests in flight come back in about the same time, twice as many a second
  (200 ms ± 50 %: ~0.2 s at 128, 256 and 512); when this machine's CPU is the limit, they
  only queue twice as long (latency 0: 42 ms at 128, 78 ms at 256).

The first sign alone failed on a busy machine: at 200 ms ± 50 % with both cores shared by
two dispatchers, the stub and PostgreSQL, each thread wanted the CPU over half the time and
the window stopped at 512, capping dispatch at 0.49 of the raw limit with 12 % of the CPU
idle. (Comparing answers with the fastest one of the run did not do either: at latency 0
the fastest took 30 to 80 ms, queued behind the first burst, and the window grew to 1,000.)

It never shrinks within a dispatcher's run; each run starts small again, so a gateway that
got faster is found again at the next one. When the gateway itself is the limit (its own
CPU), the window grows to the maximum, as a fixed window would be.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

START = 128
STEP_SECONDS = 0.1
IDLE_BELOW = 0.5
SLOWER_BY = 1.25
ENOUGH = 32

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
        self.size = self._start = min(start, maximum)
        self._clock, self._cpu_wanted = clock, cpu_wanted
        self._step_at, self._wanted_at = clock(), cpu_wanted()
        self._full = False
        # Answers by the size the window had when their requests started: seconds, count.
        self._took: dict[int, float] = defaultdict(float)
        self._answers: dict[int, int] = defaultdict(int)

    def room(self, in_flight: int, waiting: int) -> int:
        """How many of ``waiting`` messages may start now."""
        room = max(self.size - in_flight, 0)
        if waiting > room:
            self._full = True
        return min(room, waiting)

    def answered(self, seconds: float, *, size: int) -> None:
        """A request started while the window was ``size`` got its answer after
        ``seconds``."""
        self._took[size] += seconds
        self._answers[size] += 1

    def step(self) -> None:
        """Called often; every ``STEP_SECONDS`` decides whether the window grows."""
        if self.size >= self.maximum:
            return
        now = self._clock()
        elapsed = now - self._step_at
        if elapsed < STEP_SECONDS:
            return
        wanted = self._cpu_wanted()
        idle = wanted - self._wanted_at < IDLE_BELOW * elapsed
        if self._full and (idle or self._latency_held()):
            self.size = min(self.size * 2, self.maximum)
        self._step_at, self._wanted_at, self._full = now, wanted, False

    def _latency_held(self) -> bool:
        """Requests started at this size take about as long as at the size before (half
        of it: below the maximum, where this is asked, every size is a doubling)."""
        now = self.size
        before = now // 2
        if before <= self._start:  # none before the start; its first burst opens connections
            return False
        if min(self._answers[before], self._answers[now]) < ENOUGH:
            return False
        return self._mean(now) < SLOWER_BY * self._mean(before)

    def _mean(self, size: int) -> float:
        return self._took[size] / self._answers[size]
