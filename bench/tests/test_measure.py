"""The /proc readings the benchmarks print: a process group's processes, and its CPU split
between main threads and the others."""

from __future__ import annotations

import subprocess
import sys
import time

from bench.measure import cpu_seconds_by_thread, processes_in

# A process whose second thread spins for a while and whose main thread only waits.
SPIN_IN_A_THREAD = """
import threading, time
def spin():
    end = time.process_time() + 0.5
    while time.process_time() < end:
        pass
t = threading.Thread(target=spin)
t.start(); t.join()
print("done", flush=True)
time.sleep(30)
"""


def test_a_groups_cpu_is_split_between_main_and_other_threads() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", SPIN_IN_A_THREAD], stdout=subprocess.PIPE, start_new_session=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"done"
        time.sleep(0.05)
        assert processes_in({child.pid}) == [str(child.pid)]
        used = cpu_seconds_by_thread([child.pid])
        assert used["other threads"] >= 0.4  # the spinning thread (it has ended: see below)
        assert used["main threads"] < used["other threads"]
    finally:
        child.kill()
        child.wait()
    assert processes_in({child.pid}) == []
