"""What every benchmark reports: its rows, progress lines, the table, the machine."""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass


@dataclass
class Row:
    number: int
    figure: str
    value: float
    unit: str
    target: str
    met: bool | None
    detail: str = ""


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def machine() -> str:
    cores = os.cpu_count()
    with open("/proc/meminfo") as meminfo:
        kib = int(meminfo.readline().split()[1])
    return (
        f"{cores} cores, {kib / 1024 / 1024:.0f} GiB, {platform.platform()}, "
        f"Python {platform.python_version()}"
    )


def print_table(rows: list[Row]) -> str:
    lines = [
        "| # | figure | value | target | met |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in sorted(rows, key=lambda r: r.number):
        met = "n/a" if row.met is None else ("yes" if row.met else "NO")
        value = f"{row.value:,.2f}" if row.value < 100 else f"{row.value:,.0f}"
        detail = f" ({row.detail})" if row.detail else ""
        lines.append(
            f"| {row.number} | {row.figure}{detail} | {value} {row.unit} | {row.target} | {met} |"
        )
    table = "\n".join(lines)
    print(table, flush=True)
    return table
