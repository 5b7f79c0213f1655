from __future__ import annotations

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError


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
        return super().clean()
