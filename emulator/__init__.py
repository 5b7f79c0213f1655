"""A development tool, apart from the service: an emulator of the external sending API
(SPEC section 5), with fault injection.

``POST /send/{msgId}`` with ``Authorization: Bearer <token>`` and the JSON body
``{"id": msgId, "phone": 79001234567, "text": "..."}`` answers ``{"code": 0, "message":
"OK"}`` after the configured latency. It checks the token (when one is set) and validates the
body strictly (400 with a reason otherwise). Faults are drawn per request, in this order:

- ``outage``: every connection is dropped without an answer (a full outage);
- ``hang_rate``: no answer for ``hang_seconds`` (longer than the client's timeout), then 504;
- ``rate_limit_rate``: 429 with ``Retry-After: retry_after``;
- ``error_rate``: a 500, 502, 503 or 504;
- ``garbage_rate``: a 200 whose body is not ``{"code": 0}`` (not JSON, another code, empty);
- ``reject_rate``: a 400 (a permanent error for that message).

A fault never delivers; only a success counts as a delivery. Every knob is a command-line flag
and can be changed at run time: ``GET /control`` shows them, ``POST /control`` with a JSON
object changes the given ones. ``GET /stats`` counts requests, deliveries and duplicate
``msgId``s; ``GET /deliveries`` lists them (``?text=`` to filter); ``POST /reset``
clears the counts and puts every knob back to what the emulator started with.

Run: ``python -m emulator --port 8001`` (``make gateway``), or in tests and benchmarks
``emulator.thread.EmulatorThread`` in-process on a real socket.
"""
