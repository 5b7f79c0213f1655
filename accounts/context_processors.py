from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def sign_in(request: HttpRequest) -> dict[str, object]:
    """What the admin's login page offers: the password form, the provider's button, both."""
    return {
        "sign_in": {
            "password": settings.ADMIN_PASSWORD_LOGIN,
            "sso": settings.OIDC_ENABLED,
            "sso_name": settings.OIDC_PROVIDER_NAME,
        }
    }
