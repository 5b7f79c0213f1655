"""API keys for integrations (SPEC 8.1): ``Authorization: Api-Key <key>`` acts with the
key's role; a revoked or unknown key is a 401. Keys are made and revoked by admins at
``/api/keys/`` (``accounts.api``); the key itself appears once, in the answer that made
it. (No views here: DRF imports authentication classes while it starts.)"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from accounts.models import ApiKey

KEYWORD = "Api-Key"
# last_used_at is written at most this often per key (not a write per request).
TOUCH_EVERY = timedelta(minutes=1)


class KeyPrincipal:
    """``request.user`` for a request signed with an API key."""

    is_authenticated = True
    is_active = True
    is_superuser = False
    is_staff = False

    def __init__(self, key: ApiKey) -> None:
        self.key = key
        self.role = key.role
        self.key_name = key.name
        self.pk = f"key:{key.prefix}"  # the idempotency keys' owner: one key, one owner

    def get_username(self) -> str:
        return f"key:{self.key_name}"

    def __str__(self) -> str:
        return self.get_username()


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[KeyPrincipal, ApiKey] | None:
        header = get_authorization_header(request).split()
        if not header or header[0].decode(errors="replace") != KEYWORD:
            return None
        if len(header) != 2:
            raise AuthenticationFailed("Send Authorization: Api-Key <key>.")
        given = header[1].decode(errors="replace")
        try:
            key = cast(ApiKey, ApiKey.objects.get_from_key(given))
        except ApiKey.DoesNotExist:
            raise AuthenticationFailed("Unknown or revoked API key.") from None
        if key.has_expired:
            raise AuthenticationFailed("This API key has expired.")
        now = timezone.now()
        if key.last_used_at is None or now - key.last_used_at >= TOUCH_EVERY:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        return KeyPrincipal(key), key

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.apikeys.ApiKeyAuthentication"
    name = "apiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Api-Key <key>",
        }
