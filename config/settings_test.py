"""Test settings: the real settings plus what only a test run needs.

The database and broker stay whatever DATABASE_URL and CELERY_BROKER_URL say, so `.ci/run`
runs the same suite on PostgreSQL + Redis and on the embedded defaults.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("SECRET_KEY", "test-only-not-a-secret-" + "x" * 32)
# The tests' filesystem broker is their own, apart from a `make run` on the same checkout.
os.environ.setdefault(
    "BROKER_DIR", str(Path(__file__).resolve().parent.parent / ".data" / "test-broker")
)

from config.settings import *  # noqa: F403

# Fast hashes for tests; PBKDF2 too, for users that end-to-end tests sign in as through
# processes running the real settings.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
