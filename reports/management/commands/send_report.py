"""`make report`: send the statistics of the last 24 hours to REPORT_RECIPIENTS now."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from reports.services import report_send_now


class Command(BaseCommand):
    help = "Send the statistics report of the last 24 hours to REPORT_RECIPIENTS now."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.REPORT_RECIPIENTS:
            raise CommandError("REPORT_RECIPIENTS is empty: set it to comma-separated addresses.")
        sent = report_send_now()
        self.stdout.write(
            f"report sent to {len(settings.REPORT_RECIPIENTS)} recipient(s)" if sent else "not sent"
        )
