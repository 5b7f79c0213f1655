from __future__ import annotations

from django.conf import settings
from django.db import models
from rest_framework_api_key.models import AbstractAPIKey


class OidcIdentity(models.Model):
    """The identity provider's account behind a user who signs in with OpenID Connect.

    Users are found by (issuer, subject) — the one pair OpenID Connect guarantees stable and
    unique — never by e-mail address, so an account at the provider can never take over a
    local one that happens to share its address.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oidc_identity"
    )
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    last_sign_in_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "OpenID Connect identity"
        verbose_name_plural = "OpenID Connect identities"
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="oidc_identity_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"


class AuditEntry(models.Model):
    """One write through the API or the admin (SPEC 8.1): who, what, on which object.

    Append-only: the model refuses to change or delete an entry, and so does the database
    (triggers of the migration that made the table), whoever asks.
    """

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.CharField(max_length=160, db_index=True)  # a username, or key:<name>
    action = models.CharField(max_length=40, db_index=True)  # <object_type>.<verb>
    object_type = models.CharField(max_length=16)
    object_id = models.CharField(max_length=64, blank=True, default="")
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "audit log"
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action} {self.object_id}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise PermissionError("audit entries cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise PermissionError("audit entries cannot be deleted")


class ApiKey(AbstractAPIKey):
    """An integration's credential (SPEC 8.1): ``Authorization: Api-Key <key>`` acts with
    its role. djangorestframework-api-key stores only a hash of the key (the key itself is
    shown once, when made) and a short prefix to find it by; revoked keys stay, unusable."""

    role = models.CharField(
        max_length=16, choices=[(r, r) for r in ("viewer", "operator", "admin")]
    )
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API key"
        verbose_name_plural = "API keys"
