"""Django's PostgreSQL backend, with a reused connection checked without a round trip.

With ``CONN_HEALTH_CHECKS`` Django checks a persistent connection before a request (or a
Celery task) first uses it, and its check is a ``SELECT 1``: one more statement on every
API request (GET /api/clients/ 4 instead of 3, POST 3 instead of 2, counted by
PostgreSQL), each a round trip that waits for the database's turn on the CPU when the
machine is busy. Here the check asks the connection's socket instead. An idle connection
has nothing to read unless the server has closed it — restarted, crashed, or terminated
the backend: its last words (an error, the end of the stream) are then waiting — so a
socket with anything to read is taken as unusable, and Django opens a new connection
before the request's first query, as it does after a failed ``SELECT 1``. A server gone
without closing its side (a host that lost power, a cut network) is seen by neither
check before a timeout; the request's own query then fails, as ``SELECT 1`` would have.
"""

from __future__ import annotations

import select

import psycopg
from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed:  # psycopg: a broken one is closed too
            return False
        try:
            poll = select.poll()  # not select.select: any descriptor number
            poll.register(connection.pgconn.socket, select.POLLIN)
            return not poll.poll(0)
        except (OSError, ValueError, psycopg.Error):
            return False
