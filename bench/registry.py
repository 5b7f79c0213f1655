"""The registry of benchmarks: each is a small function that measures one thing and returns
its rows, registered with the numbers it reports and the configurations it runs on.

``bench.suite`` runs the registered benchmarks of one configuration: first those that start
stacks of their own, then the others against one shared stack — those that send first, then
those that need the sending stopped (``quiet``) — each group in registration order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.report import Row


@dataclass
class Context:
    """What a benchmark gets: the configuration, its sizes, and the shared stack."""

    config: str
    sizes: dict[str, int]
    database_url: str
    redis: bool
    stack: Any = None
    api: Any = None
    limit: float = 0.0  # requests/s of a plain client against the gateway (benchmark 1)
    only: set[int] = field(default_factory=set)

    def wanted(self, number: int) -> bool:
        return not self.only or number in self.only


@dataclass(frozen=True)
class Benchmark:
    name: str
    numbers: tuple[int, ...]  # the rows it reports (`--only` selects by them)
    configs: tuple[str, ...]
    run: Callable[[Context], list[Row]]
    own_stack: bool = False  # starts and stops its own processes
    always: bool = False  # others depend on what it measures
    quiet: bool = False  # runs after the sending benchmarks, with workers and beat stopped

    @property
    def stage(self) -> int:
        return 0 if self.own_stack else (2 if self.quiet else 1)


REGISTRY: list[Benchmark] = []


def benchmark(
    *numbers: int,
    configs: tuple[str, ...] = ("postgres",),
    own_stack: bool = False,
    always: bool = False,
    quiet: bool = False,
) -> Callable[[Callable[[Context], list[Row]]], Callable[[Context], list[Row]]]:
    def register(fn: Callable[[Context], list[Row]]) -> Callable[[Context], list[Row]]:
        REGISTRY.append(Benchmark(fn.__name__, numbers, configs, fn, own_stack, always, quiet))
        return fn

    return register


@dataclass
class Selection:
    config: str
    only: set[int] = field(default_factory=set)

    def __call__(self, bench: Benchmark) -> bool:
        if self.config not in bench.configs:
            return False
        return bench.always or not self.only or bool(self.only & set(bench.numbers))
