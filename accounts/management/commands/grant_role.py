"""Give someone a role: ``manage.py grant_role ann operator`` (``none`` takes it away)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.roles import ROLES, set_role


class Command(BaseCommand):
    help = "Set a user's role: viewer, operator, admin, or none."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("role", choices=[*ROLES, "none"])

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user {options['username']!r}.")
        role = None if options["role"] == "none" else options["role"]
        set_role(user, role, actor="manage.py grant_role")
        self.stdout.write(f"{user.get_username()}: {role or 'no role'}.")
