"""Exit 0 when the database and the broker answer, 1 otherwise: the worker's readiness probe."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from core.health import readiness


class Command(BaseCommand):
    help = "Check that the database and the broker answer (exit status 0 or 1)."

    def handle(self, *args: Any, **options: Any) -> None:
        failed = {name: error for name, error in readiness().items() if error}
        if failed:
            raise CommandError(f"not ready: {', '.join(sorted(failed))}")
        self.stdout.write("ready")
