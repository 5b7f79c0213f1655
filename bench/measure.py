"""Measuring the processes of a running stack from /proc: peak memory, CPU by role."""

from __future__ import annotations

import os
import re
import statistics
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any


class PeakMemory:
    """Samples the resident memory of every process in some process groups."""

    def __init__(self, pgids: Callable[[], list[int]]) -> None:
        self._pgids = pgids
        self.peak_process_mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        # A sample at once, then every 0.25 s: a short measurement still gets one.
        while True:
            self._sample()
            if self._stop.wait(0.25):
                return

    def _sample(self) -> None:
        for pid in processes_in(set(self._pgids())):
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        mib = int(line.split()[1]) / 1024
                        self.peak_process_mib = max(self.peak_process_mib, mib)
            except (OSError, IndexError, ValueError):
                continue

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def processes_in(pgids: set[int]) -> list[str]:
    """The pids of the running processes in these process groups."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) in pgids:
            found.append(pid)
    return found


def cpu_seconds_by_role(stack: Any) -> dict[str, float]:
    """CPU time (user + system) used so far by each role's processes on this machine, with
    that of their children that ended (a PostgreSQL backend, a worker's pool process)."""
    tick = os.sysconf("SC_CLK_TCK")
    groups = {p.pid: re.sub(r"\d.*$", "", name) for name, p in stack.procs.items()}
    me = os.getpid()
    totals: dict[str, float] = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            raw = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw.rsplit(")", 1)[1].split()
        pgrp = int(fields[2])
        used = sum(int(n) for n in fields[11:15]) / tick  # utime, stime, cutime, cstime
        if pgrp in groups:
            role = groups[pgrp]
        elif comm.startswith("postgres"):
            role = "postgres"
        elif int(pid) == me:
            role = "load generator (bench)"
        else:
            continue
        totals[role] = totals.get(role, 0.0) + used
    return totals


def group_of(stack: Any, prefix: str) -> Callable[[], list[int]]:
    return lambda: [p.pid for name, p in stack.procs.items() if name.startswith(prefix)]


def p(values: list[float], q: int) -> float:
    """The q-th percentile."""
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100)[q - 1]


def cpu_seconds_by_thread(pgids: list[int]) -> dict[str, float]:
    """CPU time (user + system) so far of the processes in these process groups, split
    between each process's main thread (the event loop, in a worker's pool process) and all
    its other threads (the dispatcher's database threads, Celery's own), ended ones included:
    the process's total less its main thread's."""
    tick = os.sysconf("SC_CLK_TCK")
    totals = {"main threads": 0.0, "other threads": 0.0}
    for pid in processes_in(set(pgids)):
        try:
            process = _cpu_ticks(f"/proc/{pid}/stat")
            main = _cpu_ticks(f"/proc/{pid}/task/{pid}/stat")
        except (OSError, IndexError, ValueError):
            continue
        totals["main threads"] += main / tick
        totals["other threads"] += (process - main) / tick
    return totals


def _cpu_ticks(stat_path: str) -> int:
    """utime + stime of a /proc stat file (a process's counts its ended threads too)."""
    fields = Path(stat_path).read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])
