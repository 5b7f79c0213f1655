from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

from accounts import signin
from accounts.roles import role_of


class AdminLoginForm(AdminAuthenticationForm):
    """The admin's password form, refusing every password when ADMIN_PASSWORD_LOGIN is off
    (sign-in is then through the OpenID Connect provider only)."""

    def clean(self) -> dict[str, object]:
        if not settings.ADMIN_PASSWORD_LOGIN:
            raise ValidationError(
                "Password sign-in is switched off here: sign in with %(provider)s.",
                code="password_login_off",
                params={"provider": settings.OIDC_PROVIDER_NAME},
            )
        username = str(self.data.get("username") or "")[:150]
        address = signin.client_address(self.request) if self.request else "unknown"
        wait = signin.seconds_locked(username, address)
        if wait:
            raise ValidationError(signin.locked_message(wait), code="throttled")
        try:
            return super().clean()
        except ValidationError as exc:
            if getattr(exc, "code", None) == "invalid_login":
                signin.record_failure(username, address)
            raise

    def confirm_login_allowed(self, user: Any) -> None:
        """An active account with a role gets in (staff status is not the test: a role is)."""
        if not user.is_active or role_of(user) is None:
            raise ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )
