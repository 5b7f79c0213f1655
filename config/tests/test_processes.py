"""How `make run` starts the workers below the API (``WORKER_NICE``), checked on real
processes: the policy and the nice level a command started that way runs under."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from config import processes

PRINT_POLICY = "import os; print(os.sched_getscheduler(0), os.nice(0))"


def _run_under(env: dict[str, str]) -> tuple[int, int]:
    argv = [*processes.worker_priority(env), sys.executable, "-c", PRINT_POLICY]
    policy, nice = subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split()
    return int(policy), int(nice)


@pytest.mark.skipif(not shutil.which("chrt"), reason="chrt is Linux's (util-linux)")
def test_by_default_the_workers_run_under_sched_idle() -> None:
    assert _run_under({}) == (os.SCHED_IDLE, 0)
    assert _run_under({"WORKER_NICE": " idle "})[0] == os.SCHED_IDLE
    assert _run_under({"WORKER_NICE": ""})[0] == os.SCHED_IDLE  # set empty: the default


def test_a_number_is_a_nice_level_under_the_normal_policy() -> None:
    assert _run_under({"WORKER_NICE": "10"}) == (os.SCHED_OTHER, 10)
    assert _run_under({"WORKER_NICE": "0"}) == (os.SCHED_OTHER, 0)


def test_the_worker_command_starts_with_the_priority_then_celery() -> None:
    argv = processes.worker({"WORKER_NICE": "7"})
    assert argv[:4] == ["nice", "-n", "7", str(processes.BIN / "celery")]


# The last: a full-width digit one, which str.isdigit() takes for a digit.
@pytest.mark.parametrize("value", ["20", "-1", "high", "1.5", "\uff11"])
def test_anything_else_is_refused_with_the_setting_named(value: str) -> None:
    with pytest.raises(ValueError, match=r"^WORKER_NICE must be idle or a whole number"):
        processes.worker_priority({"WORKER_NICE": value})
