"""A private PostgreSQL cluster for fault tests: made with ``initdb`` under a temporary
folder, served on a free port, and killable — postmaster and every backend at once with
SIGKILL, as a crashed or fenced database server goes — then started again on the same data.

Runs as the ``postgres`` user when the tests run as root (PostgreSQL refuses root), else as
the current user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from e2e.stack import ROOT, free_port, wait_until


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    if found:
        return Path(found[-1]).parent
    which = shutil.which("postgres")
    return Path(which).parent if which else None


class PrivatePostgres:
    def __init__(self) -> None:
        bindir = postgres_bin()
        if bindir is None:
            raise RuntimeError("the PostgreSQL server binaries are not installed")
        self.bin = bindir
        self.root = Path(tempfile.mkdtemp(prefix="mailing-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        self.url = f"postgres://{self.user}@127.0.0.1:{self.port}/mailing"
        self.proc: subprocess.Popen[bytes] | None = None
        self.kills: list[float] = []
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._as_owner(
            [
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-A",
                "trust",
                "-U",
                self.user,
                "-E",
                "UTF8",
            ]
        )

    def _as_owner(self, argv: list[str]) -> None:
        subprocess.run(
            argv, check=True, capture_output=True, user=self.user if os.geteuid() == 0 else None
        )

    def start(self) -> PrivatePostgres:
        log = open(self.root / "postgres.log", "ab")  # noqa: SIM115 -- lives with the process
        self.proc = subprocess.Popen(
            [
                str(self.bin / "postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={self.root}",
                "-c",
                "fsync=off",
                "-c",
                "max_connections=200",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            user=self.user if os.geteuid() == 0 else None,
        )
        wait_until(self._accepts, timeout=30, what="the private PostgreSQL")
        return self

    def _accepts(self) -> bool:
        try:
            with psycopg.connect(self.admin_url, connect_timeout=1):
                return True
        except psycopg.OperationalError:
            return False

    @property
    def admin_url(self) -> str:
        return f"postgres://{self.user}@127.0.0.1:{self.port}/postgres"

    def create_database(self) -> str:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE mailing")
        return self.url

    def kill(self) -> None:
        """SIGKILL to the postmaster's whole process group: every backend dies with it."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None
        self.kills.append(time.monotonic())
        (self.data / "postmaster.pid").unlink(missing_ok=True)

    def stop(self) -> None:
        if self.proc is not None:
            self.kill()
        shutil.rmtree(self.root, ignore_errors=True)


def migrated_database(pg: PrivatePostgres, *, username: str, password: str) -> str:
    """The private cluster's ``mailing`` database with the schema and one API user (an
    operator); returns its URL."""
    from django.contrib.auth.hashers import make_password

    url = pg.create_database()
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "private-pg-" + "x" * 50}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO auth_user (username, password, is_superuser, is_staff, is_active, "
            "first_name, last_name, email, date_joined) "
            "VALUES (%s, %s, false, true, true, '', '', '', now())",
            [username, make_password(password, hasher="pbkdf2_sha256")],
        )
        conn.execute(  # the operator group, made by the accounts migration 0002
            "INSERT INTO auth_user_groups (user_id, group_id) SELECT u.id, g.id "
            "FROM auth_user u, auth_group g WHERE u.username = %s AND g.name = 'operator'",
            [username],
        )
    return url


def insert_clients(url: str, *, tag: str, count: int, offset: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO clients_client (phone, operator_code, tag, timezone, created_at) "
            "SELECT '7' || lpad((g + %s)::text, 10, '0'), '900', %s, 'UTC', now() "
            "FROM generate_series(1, %s) g",
            [offset, tag, count],
        )


def mailing_state(url: str, mailing_id: int) -> dict[str, object]:
    """A mailing's status, its messages by status, and its counters (totals plus deltas)."""
    with psycopg.connect(url, connect_timeout=2) as conn:
        status = conn.execute(
            "SELECT status FROM mailings_mailing WHERE id = %s", [mailing_id]
        ).fetchone()
        rows = conn.execute(
            "SELECT status, count(*) FROM mailings_message WHERE mailing_id = %s GROUP BY status",
            [mailing_id],
        ).fetchall()
        counters = conn.execute(
            "SELECT status, sum(n) FROM (SELECT status, count AS n FROM mailings_messagecount "
            "WHERE mailing_id = %s UNION ALL SELECT status, delta FROM "
            "mailings_messagecountdelta WHERE mailing_id = %s) t GROUP BY status",
            [mailing_id, mailing_id],
        ).fetchall()
    return {
        "status": status[0] if status else None,
        "rows": dict(rows),
        "counters": {s: int(n) for s, n in counters if n},
    }


def is_final(url: str, mailing_id: int, statuses: tuple[str, ...] = ("finished",)) -> bool:
    try:
        return mailing_state(url, mailing_id)["status"] in statuses
    except psycopg.OperationalError:
        return False
