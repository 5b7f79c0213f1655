"""Weak secrets are refused before anything runs (SPEC 8.1)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

ROOT = Path(__file__).resolve().parents[2]


def settings_with(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG")}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "key",
    [
        "change-me-to-a-long-random-string",  # .env.example's
        "replace-with-a-long-random-string",  # deploy/k8s/secret.yaml's
        "short-key",
        "a" * 60,  # long, one distinct character
    ],
)
def test_a_weak_or_published_secret_key_is_refused(key: str) -> None:
    run = settings_with(SECRET_KEY=key)
    assert run.returncode != 0
    assert "SECRET_KEY is too weak" in run.stderr


def test_a_strong_key_passes_and_debug_allows_a_short_one() -> None:
    assert settings_with(SECRET_KEY="k7Qp-" * 12).returncode == 0
    assert settings_with(SECRET_KEY="dev", DEBUG="true").returncode == 0


@pytest.mark.django_db
@pytest.mark.parametrize("password", ["a", "password123", "change-me", "replace-me"])
def test_a_weak_admin_password_is_refused(settings: Any, password: str) -> None:
    settings.ADMIN_USERNAME, settings.ADMIN_PASSWORD = "root", password
    with pytest.raises(CommandError, match="ADMIN_PASSWORD is too weak"):
        call_command("ensure_admin")
    from django.contrib.auth import get_user_model

    assert not get_user_model().objects.filter(username="root").exists()
