"""The in-flight window: starts small, doubles while full and either idle or waiting on the
gateway's own latency, up to the maximum."""

from __future__ import annotations

import threading
import time

import pytest

from delivery import window
from delivery.window import Window, cpu_wanted_seconds

STEP = window.STEP_SECONDS * 1.001  # a step, and a hair (the clock is a float)


class Clock:
    """The wall clock and the thread's CPU wanted, moved by the test."""

    def __init__(self) -> None:
        self.now = 100.0
        self.wanted = 5.0

    def advance(self, seconds: float, *, busy: float) -> None:
        self.now += seconds
        self.wanted += seconds * busy


def window_of(maximum: int, clock: Clock) -> Window:
    return Window(maximum, clock=lambda: clock.now, cpu_wanted=lambda: clock.wanted)


def full_step(w: Window, clock: Clock, *, busy: float, in_flight: int | None = None) -> None:
    """One step in which more messages waited than the window had room for."""
    flying = w.size if in_flight is None else in_flight
    assert w.room(flying, waiting=w.size + 1) == w.size - flying
    clock.advance(STEP, busy=busy)
    w.step()


def test_it_starts_small_and_room_is_what_the_window_leaves() -> None:
    w = window_of(1000, Clock())

    assert w.size == window.START == 128
    assert w.room(100, waiting=500) == 28
    assert w.room(100, waiting=5) == 5
    assert w.room(200, waiting=5) == 0  # never negative


def test_a_full_window_on_an_idle_thread_doubles_each_step_up_to_the_maximum() -> None:
    clock = Clock()
    w = window_of(1000, clock)

    sizes = []
    for _ in range(5):
        full_step(w, clock, busy=0.1)  # requests wait on the gateway
        sizes.append(w.size)

    assert sizes == [256, 512, 1000, 1000, 1000]


def test_a_busy_thread_keeps_its_window() -> None:
    clock = Clock()
    w = window_of(1000, clock)

    for _ in range(5):
        full_step(w, clock, busy=0.8)  # running or waiting for a core: more would not help

    assert w.size == 128


def answers(w: Window, size: int, seconds: float, count: int = window.ENOUGH) -> None:
    for _ in range(count):
        w.answered(seconds, size=size)


def grown_while_idle_to_512(clock: Clock) -> Window:
    w = window_of(1000, clock)
    full_step(w, clock, busy=0.1)
    full_step(w, clock, busy=0.1)
    assert w.size == 512
    return w


@pytest.mark.parametrize(
    ("at_256", "at_512", "size"),
    [
        # 200 ms ± 50 % on a machine whose cores are all taken: the thread wants the CPU most
        # of the time, yet twice the requests came back in the same time, twice as many a
        # second, so more go faster still.
        pytest.param(0.20, 0.21, 1000, id="the-gateways-latency-held"),
        # Latency 0 on a busy machine: twice the requests only waited twice as long.
        pytest.param(0.04, 0.08, 512, id="answers-queued-twice-as-long"),
    ],
)
def test_a_busy_thread_doubles_again_only_if_the_last_doubling_did_not_slow_the_answers(
    at_256: float, at_512: float, size: int
) -> None:
    clock = Clock()
    w = grown_while_idle_to_512(clock)
    answers(w, 256, at_256)
    answers(w, 512, at_512)

    for _ in range(3):
        full_step(w, clock, busy=0.9)

    assert w.size == size


def test_too_few_answers_or_the_first_burst_decide_nothing() -> None:
    clock = Clock()
    w = grown_while_idle_to_512(clock)
    answers(w, 256, 0.2)
    answers(w, 512, 0.2, count=window.ENOUGH - 1)
    full_step(w, clock, busy=0.9)
    assert w.size == 512

    clock = Clock()
    w = window_of(1000, clock)
    full_step(w, clock, busy=0.1)  # 128 -> 256 while idle
    answers(w, 128, 0.3)  # the first burst also opened the connections
    answers(w, 256, 0.2)
    full_step(w, clock, busy=0.9)
    assert w.size == 256


def test_a_window_with_room_left_does_not_grow_however_idle() -> None:
    clock = Clock()
    w = window_of(1000, clock)

    for _ in range(5):
        assert w.room(10, waiting=5) == 5
        clock.advance(STEP, busy=0.0)
        w.step()

    assert w.size == 128


def test_it_decides_once_a_step_has_passed_and_over_that_step_only() -> None:
    clock = Clock()
    w = window_of(1000, clock)

    w.room(128, waiting=1)
    clock.advance(STEP / 2, busy=0.0)
    w.step()
    assert w.size == 128  # too early to tell
    clock.advance(STEP / 2, busy=0.0)
    w.step()
    assert w.size == 256
    clock.advance(STEP, busy=0.0)  # not full in this step
    w.step()
    assert w.size == 256


def test_a_maximum_below_the_start_is_the_window() -> None:
    assert window_of(10, Clock()).size == 10


@pytest.mark.skipif(
    not window._SCHEDSTAT.exists(), reason="Linux's per-thread scheduler statistics only"
)
def test_the_cpu_wanted_counts_running_and_not_sleeping() -> None:
    def measure(work: object) -> float:
        seen: list[float] = []

        def run() -> None:
            before = cpu_wanted_seconds()
            started = time.monotonic()
            while time.monotonic() - started < 0.2:
                if work == "sleep":
                    time.sleep(0.01)
            seen.append(cpu_wanted_seconds() - before)

        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
        return seen[0]

    assert measure("spin") >= 0.15
    assert measure("sleep") < 0.05
