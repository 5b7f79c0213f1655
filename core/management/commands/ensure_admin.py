"""Create the admin user from ADMIN_USERNAME / ADMIN_PASSWORD if it does not exist.

Without ADMIN_PASSWORD a password is generated and printed once; it is never logged.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

# The placeholders in .env.example and deploy/k8s/secret.yaml.
PLACEHOLDER_PASSWORDS = frozenset({"change-me", "replace-me"})


class Command(BaseCommand):
    help = "Create the admin user (ADMIN_USERNAME/ADMIN_PASSWORD) if it does not exist."

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        username = settings.ADMIN_USERNAME
        if user_model.objects.filter(username=username).exists():
            self.stdout.write(f"Admin user {username!r} exists.")
            return
        password = settings.ADMIN_PASSWORD
        generated = not password
        if generated:
            password = secrets.token_urlsafe(12)
        if password in PLACEHOLDER_PASSWORDS:
            raise CommandError(
                "ADMIN_PASSWORD is too weak: it is a placeholder from this repository."
            )
        try:
            validate_password(password, user_model(username=username))
        except ValidationError as exc:
            raise CommandError(f"ADMIN_PASSWORD is too weak: {' '.join(exc.messages)}") from None
        user_model.objects.create_superuser(username=username, email="", password=password)
        if generated:
            self.stdout.write(
                self.style.WARNING(
                    f"Created admin user {username!r} with the generated password: {password}\n"
                    "It is shown only this once; set ADMIN_PASSWORD to choose your own."
                )
            )
        else:
            self.stdout.write(f"Created admin user {username!r} (password from ADMIN_PASSWORD).")
