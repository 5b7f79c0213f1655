from __future__ import annotations

from django.db import models


class ReportStatus(models.TextChoices):
    PENDING = "pending"  # due, or waiting to retry after a failed send
    SENDING = "sending"  # claimed by one sender under a lease
    SENT = "sent"


class DailyReport(models.Model):
    """One row per report day: the unique day is what makes the report go out once, however
    many beats or workers try."""

    day = models.DateField(unique=True)
    status = models.CharField(
        max_length=16, choices=ReportStatus.choices, default=ReportStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"Report {self.day} ({self.status})"
