"""`make run` refuses a configuration the settings reject, in one line, before touching
anything."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _make_run(
    tmp_path: Path, *, timeout: float = 60, **settings: str
) -> subprocess.CompletedProcess[str]:
    """`make run`'s script on the embedded defaults with ``settings`` and nothing else set
    (no OpenID Connect, no admin, no database or broker URL), its data under ``tmp_path``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OIDC_", "ADMIN_"))}
    for name in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "CELERY_BROKER_URL"):
        env.pop(name, None)
    env.update({"DATA_DIR": str(tmp_path), **settings})
    return subprocess.run(
        [sys.executable, "scripts/run_all.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_an_incomplete_configuration_stops_make_run_with_one_clear_line(tmp_path: Path) -> None:
    done = _make_run(tmp_path, OIDC_ISSUER="https://id.example.com/realms/ops")

    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "make run: cannot start: OIDC_ISSUER is set: set OIDC_CLIENT_ID, OIDC_CLIENT_SECRET "
        'and OIDC_ADMIN_VALUE too (the group or claim value that grants the admin; "*" for '
        "every account)."
    ]
    assert not (tmp_path / "db.sqlite3").exists()  # nothing migrated


def test_a_weak_admin_password_stops_make_run_with_one_line(tmp_path: Path) -> None:
    done = _make_run(tmp_path, timeout=120, ADMIN_PASSWORD="a")

    assert done.returncode == 1
    said = [line for line in done.stderr.splitlines() if line.strip()]
    assert said[-1].startswith("CommandError: ADMIN_PASSWORD is too weak"), done.stderr
    assert "Traceback" not in done.stderr


def test_make_run_listens_on_this_machine_unless_host_says_otherwise(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import run_all
    finally:
        sys.path.pop(0)
    env = {"DATA_DIR": str(tmp_path), "PORT": "8000"}
    assert "127.0.0.1:8000" in run_all.commands(env)["web"]
    assert "0.0.0.0:8000" in run_all.commands({**env, "HOST": "0.0.0.0"})["web"]  # noqa: S104


def test_a_bad_worker_priority_stops_make_run_with_one_line(tmp_path: Path) -> None:
    done = _make_run(tmp_path, WORKER_NICE="20")

    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "make run: cannot start: WORKER_NICE must be idle or a whole number from 0 to 19, not '20'"
    ]
    assert not (tmp_path / "db.sqlite3").exists()  # nothing migrated
