"""Importing the settings has no side effects: nothing is created on disk."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_settings_creates_no_file_or_folder(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "BROKER_DIR": str(data_dir / "broker"),
        "SECRET_KEY": "settings-test-key-" + "x" * 40,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("DATABASE_URL", None)
    env.pop("CELERY_BROKER_URL", None)
    code = (
        "import django; django.setup(); from django.conf import settings; print(settings.DATA_DIR)"
    )

    subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, check=True, capture_output=True
    )

    assert not data_dir.exists()
    assert list(tmp_path.iterdir()) == []


def test_no_runtime_artefact_is_tracked_by_git() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.splitlines()
    runtime = [
        path
        for path in tracked
        if path.startswith(
            (
                "control/",
                ".data/",
                "staticfiles/",
                "test-artifacts/",
                ".schemathesis/",
                ".hypothesis/",
            )
        )
        or path.endswith((".sqlite3", ".pyc", ".msg", ".exchange", "celerybeat-schedule"))
    ]
    assert runtime == []
