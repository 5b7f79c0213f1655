from __future__ import annotations

from django.conf import settings
from django.db import models


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
