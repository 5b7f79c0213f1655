"""The cyclic garbage collector, set for the service's long-lived processes.

Called once in every process that serves, after the imports are done: each Celery pool
process once it starts (``config/celery.py``, ``tune_for_service``), each gunicorn worker
once the application is loaded (``config/gunicorn.py``, ``tune_for_web``):

- ``gc.freeze()`` moves every object alive at that point (Django's settings, models and URL
  patterns, Celery's app, the libraries' modules: most of the heap) out of the collector's
  sight. CPython's full collections otherwise walk all of it, again and again, for nothing:
  those objects live as long as the process.
- The first generation's threshold goes from 700 to 50,000 tracked objects. Almost all the
  garbage of a request or of a delivery is freed by reference counting; at 700 the young
  collections ran hundreds of times a second under load, and every in-flight request's
  objects (alive for a few milliseconds) were promoted, which is what triggered the full
  collections so often.

Measured with ``make profile`` (50,000 messages, PostgreSQL + Redis, the stub, this 2-core
machine): under the defaults each dispatcher process spent about 4 of its 7 CPU-seconds in
collections (18 full collections of ~150 ms each, 2,100 young ones); frozen, 2.9 of them
went; frozen with these thresholds, a young collection ran once. README, "Performance".

The web's processes freeze their heap but keep CPython's thresholds: a request waits for
every collection that runs while it is served, and one young collection of 50,000 objects
held a gunicorn worker (and every request in it) for 30-50 ms on average and up to 143 ms
while a mailing sent at full speed, against 0.5-1.5 ms at 700. The slowest 2 % of the API
requests beside a sending mailing spent 10.3-11.1 ms of CPU (four runs) with the raised
thresholds, 5.6-6.5 ms (two runs) with these; the collections' total was the same.
"""

from __future__ import annotations

import gc

# (first generation, second, third); CPython's defaults are (700, 10, 10).
THRESHOLDS = (50_000, 20, 10)


def tune_for_service() -> None:
    """Freeze what the process has built so far, and raise the collection thresholds."""
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)


def tune_for_web() -> None:
    """Freeze what the process has built so far; the thresholds stay CPython's (short
    pauses: a request's latency sees each one)."""
    gc.freeze()
