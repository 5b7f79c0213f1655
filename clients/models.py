from __future__ import annotations

from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import Exact
from django.utils.timezone import now

from clients.validation import CONSENT_SOURCE_MAX_LENGTH, DEFAULT_TIMEZONE, TAG_MAX_LENGTH
from core.logging import mask_phone


class Client(models.Model):
    phone = models.CharField(max_length=11, unique=True, help_text="11 digits: 7XXXXXXXXXX.")
    operator_code = models.CharField(
        max_length=3, help_text="Mobile operator code; digits 2-4 of the phone by default."
    )
    tag = models.CharField(max_length=TAG_MAX_LENGTH, blank=True, default="")
    timezone = models.CharField(max_length=64, default=DEFAULT_TIMEZONE)
    # Consent to advertising (38-FZ art. 18): when and how it was given; null: none.
    consent_at = models.DateTimeField(null=True, blank=True)
    consent_source = models.CharField(
        max_length=CONSENT_SOURCE_MAX_LENGTH, blank=True, default="", db_default=""
    )
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Exact(Length("phone"), 11), name="client_phone_11_digits"
            ),
            models.CheckConstraint(
                condition=Exact(Length("operator_code"), 3), name="client_operator_code_3_digits"
            ),
        ]
        indexes = [
            # Mailing filters select by operator code and/or tag.
            models.Index(fields=["operator_code", "tag"], name="client_operator_tag"),
            models.Index(fields=["tag"], name="client_tag"),
        ]

    def __str__(self) -> str:
        return f"Client {self.pk} ({mask_phone(self.phone)})"


class ClientCountDelta(models.Model):
    """The number of clients, as rows to add up (``clients.counters``): triggers append one
    per statement that inserts or deletes clients, so writers never contend for one row,
    and the scheduler tick folds them into one."""

    delta = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.delta:+d}"
