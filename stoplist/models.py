"""The stop list: numbers that receive nothing, whatever mailing matches them (SPEC 8.3)."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import Exact
from django.utils.timezone import now

from core.logging import mask_phone

REASON_MAX_LENGTH = 500


class Source(models.TextChoices):
    API = "api"
    IMPORT = "import"
    ADMIN = "admin"


class StopListEntry(models.Model):
    phone = models.CharField(max_length=11, unique=True, help_text="11 digits: 7XXXXXXXXXX.")
    reason = models.CharField(max_length=REASON_MAX_LENGTH, blank=True, default="")
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.API)
    created_at = models.DateTimeField(default=now, editable=False)
    # Who listed it: a username (or an API key's name); empty when not known.
    created_by = models.CharField(max_length=150, blank=True, default="", editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "stop-list entry"
        verbose_name_plural = "stop list"
        constraints = [
            models.CheckConstraint(
                condition=Exact(Length("phone"), 11), name="stoplist_phone_11_digits"
            ),
        ]

    def __str__(self) -> str:
        return mask_phone(self.phone)
