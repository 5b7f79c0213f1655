"""Admin sign-in through an OpenID Connect provider (Keycloak, Auth0, Google, ...).

mozilla-django-oidc runs the authorization-code flow (state, nonce, PKCE, the token request,
the ID token's signature against the provider's JWKS). What this module adds:

- endpoints from the provider's discovery document, so configuration is the issuer URL, a
  client id and a secret (``accounts.discovery``);
- the ID token's issuer and audience checked, which the library leaves out;
- users found by (issuer, subject) in :class:`~accounts.models.OidcIdentity`, never by
  e-mail address;
- roles from the provider: ``OIDC_ADMIN_CLAIM`` holding ``OIDC_ADMIN_VALUE``,
  ``OIDC_OPERATOR_VALUE`` or ``OIDC_VIEWER_VALUE`` grants that role, derived again at every
  sign-in (``role_from_claims``); an account granted none does not get in;
- every failure (provider down, bad token, no grant) ends on the login page with a message,
  never in a server error.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import jwt
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import SuspiciousOperation
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import timezone
from django.views import View
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
)

from accounts.discovery import DiscoveryError, provider_metadata
from accounts.models import OidcIdentity
from accounts.roles import ADMIN, OPERATOR, VIEWER, set_role

logger = logging.getLogger(__name__)

UNAVAILABLE_URL = "/admin/login/?sso=unavailable"


# --- Claims ----------------------------------------------------------------------------------


def claim_value(claims: dict[str, Any], path: str) -> Any:
    """A claim by name, or nested by a dotted path (Keycloak's ``realm_access.roles``)."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def claims_hold(claims: dict[str, Any], wanted: str) -> bool:
    """Whether ``OIDC_ADMIN_CLAIM`` holds ``wanted``: ``*`` matches every account the
    provider signs in; otherwise the claim must be, or (a list) contain, the value; ``true``
    matches a boolean claim. An empty value matches nothing."""
    if not wanted:
        return False
    if wanted == "*":
        return True
    value = claim_value(claims, settings.OIDC_ADMIN_CLAIM)
    if isinstance(value, list | tuple):
        return wanted in [str(item) for item in value]
    if isinstance(value, bool):
        return wanted.lower() == str(value).lower()
    return value is not None and str(value) == wanted


def role_from_claims(claims: dict[str, Any]) -> str | None:
    """The role the provider's claims grant (SPEC 8.1), the highest that matches:
    ``OIDC_ADMIN_VALUE``, ``OIDC_OPERATOR_VALUE``, ``OIDC_VIEWER_VALUE``; None: no entry."""
    for role, wanted in (
        (ADMIN, settings.OIDC_ADMIN_VALUE),
        (OPERATOR, settings.OIDC_OPERATOR_VALUE),
        (VIEWER, settings.OIDC_VIEWER_VALUE),
    ):
        if claims_hold(claims, wanted):
            return role
    return None


def grants_admin(claims: dict[str, Any]) -> bool:
    """Whether the claims let this account into the admin at all (some role)."""
    return role_from_claims(claims) is not None


def check_id_token(payload: dict[str, Any], *, issuer: str, client_id: str) -> str:
    """The ID token checks of OpenID Connect Core 3.1.3.7 that the library does not make
    (it checks the signature, the expiry and the nonce); returns the subject it vouches for."""
    if payload.get("iss") != issuer:
        raise SuspiciousOperation(f"ID token from another issuer: {payload.get('iss')!r}")
    audience = payload.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if client_id not in audiences:
        raise SuspiciousOperation("ID token meant for another client")
    if len(audiences) > 1 and payload.get("azp") != client_id:
        raise SuspiciousOperation("ID token authorized for another party")
    if "exp" not in payload or not payload.get("sub"):
        raise SuspiciousOperation("ID token without exp or sub")
    return str(payload["sub"])


def username_for(claims: dict[str, Any]) -> str:
    """A readable, valid and unused username: the provider's username, else the e-mail
    address, else the subject; with -2, -3... if taken."""
    raw = str(claims.get("preferred_username") or claims.get("email") or claims["sub"])
    base = re.sub(r"[^\w.@+-]", "-", raw)[:140] or "oidc-user"
    user_model = get_user_model()
    candidate, n = base, 1
    while user_model.objects.filter(username=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


# --- The authentication backend --------------------------------------------------------------


class ProviderSettings:
    """What the library reads as attributes, read on use from settings and discovery: the
    library's classes read them in ``__init__``, and Django builds a backend on every
    authenticate() call, password sign-ins too — those must never touch the network."""

    @property
    def OIDC_RP_CLIENT_ID(self) -> str:
        return str(settings.OIDC_RP_CLIENT_ID)

    @property
    def OIDC_RP_CLIENT_SECRET(self) -> str:
        return str(settings.OIDC_RP_CLIENT_SECRET)

    @property
    def OIDC_RP_SIGN_ALGO(self) -> str:
        return str(settings.OIDC_RP_SIGN_ALGO)

    @property
    def OIDC_OP_AUTH_ENDPOINT(self) -> str:
        return str(provider_metadata()["authorization_endpoint"])

    @property
    def OIDC_OP_TOKEN_ENDPOINT(self) -> str:
        return str(provider_metadata()["token_endpoint"])

    @property
    def OIDC_OP_JWKS_ENDPOINT(self) -> str:
        return str(provider_metadata()["jwks_uri"])

    @property
    def OIDC_OP_USER_ENDPOINT(self) -> str | None:
        return provider_metadata().get("userinfo_endpoint")


class OidcBackend(ProviderSettings, OIDCAuthenticationBackend):
    """Signs in with an authorization code; password sign-in stays with ModelBackend."""

    OIDC_RP_IDP_SIGN_KEY = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.UserModel = get_user_model()  # the library's __init__ reads the endpoints

    def authenticate(self, request: HttpRequest | None, **kwargs: Any) -> AbstractBaseUser | None:
        if not settings.OIDC_ENABLED or request is None or "code" not in request.GET:
            return None
        try:
            user: AbstractBaseUser | None = super().authenticate(request, **kwargs)
        except (requests.RequestException, jwt.PyJWTError, SuspiciousOperation) as exc:
            logger.warning("OpenID Connect sign-in failed: %s", exc)
            return None
        except DiscoveryError as exc:
            logger.error("OpenID Connect provider unavailable: %s", exc)
            return None
        return user

    def get_or_create_user(
        self, access_token: str, id_token: str, payload: dict[str, Any]
    ) -> AbstractBaseUser | None:
        check_id_token(payload, issuer=settings.OIDC_ISSUER, client_id=self.OIDC_RP_CLIENT_ID)
        return super().get_or_create_user(access_token, id_token, payload)

    def get_userinfo(
        self, access_token: str, id_token: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        """The ID token's claims, completed by the userinfo endpoint when there is one."""
        if not self.OIDC_OP_USER_ENDPOINT:
            return dict(payload)
        userinfo = super().get_userinfo(access_token, id_token, payload)
        if userinfo.get("sub") != payload["sub"]:  # Core 5.3.2: must be the same subject
            raise SuspiciousOperation("userinfo answered for another subject")
        return {**payload, **userinfo}

    def verify_claims(self, claims: dict[str, Any]) -> bool:
        if grants_admin(claims):
            return True
        logger.warning(
            "OpenID Connect account refused: its %s claim does not grant the admin",
            settings.OIDC_ADMIN_CLAIM,
            extra={"oidc_subject": claims.get("sub")},
        )
        return False

    def filter_users_by_claims(self, claims: dict[str, Any]) -> Any:
        return self.UserModel.objects.filter(
            oidc_identity__issuer=settings.OIDC_ISSUER, oidc_identity__subject=claims["sub"]
        )

    def create_user(self, claims: dict[str, Any]) -> AbstractBaseUser:
        try:
            with transaction.atomic():
                user = self.UserModel(username=username_for(claims))
                user.set_unusable_password()
                self._copy_claims(user, claims)
                user.save()
                set_role(user, role_from_claims(claims))
                OidcIdentity.objects.create(
                    user=user, issuer=settings.OIDC_ISSUER, subject=claims["sub"]
                )
        except IntegrityError:
            # The same account's first sign-in in two tabs at once: the other one won.
            return self.update_user(self.filter_users_by_claims(claims).get(), claims)
        logger.info("OpenID Connect user created", extra={"user_id": user.pk})
        return user

    def update_user(self, user: AbstractBaseUser, claims: dict[str, Any]) -> AbstractBaseUser:
        self._copy_claims(user, claims)
        user.save()
        # Derived again at every sign-in; a change is in the audit log.
        set_role(user, role_from_claims(claims), actor=f"oidc:{settings.OIDC_ISSUER}")
        OidcIdentity.objects.filter(user_id=user.pk).update(last_sign_in_at=timezone.now())
        return user

    @staticmethod
    def _copy_claims(user: Any, claims: dict[str, Any]) -> None:
        user.email = str(claims.get("email") or "")[:254]
        user.first_name = str(claims.get("given_name") or claims.get("name") or "")[:150]
        user.last_name = str(claims.get("family_name") or "")[:150]
        # Reaching here means the claims grant a role (verify_claims); the provider is the
        # source of truth, so the role is set again on every sign-in (by the caller).
        user.is_staff = True
        user.is_superuser = False


# --- Views -----------------------------------------------------------------------------------


class SignInView(ProviderSettings, OIDCAuthenticationRequestView):
    """``/oidc/authenticate/?next=...``: off to the provider's sign-in page."""

    def __init__(self, **kwargs: Any) -> None:
        View.__init__(self, **kwargs)  # the library's __init__ reads the endpoint

    def get(self, request: HttpRequest) -> HttpResponse:
        if not settings.OIDC_ENABLED:
            raise Http404("OpenID Connect sign-in is not configured")
        try:
            provider_metadata()
        except DiscoveryError as exc:
            logger.error("OpenID Connect provider unavailable: %s", exc)
            return HttpResponseRedirect(UNAVAILABLE_URL)
        return super().get(request)


class CallbackView(OIDCAuthenticationCallbackView):
    """``/oidc/callback/``: where the provider sends the browser back with a code; a
    failure goes to LOGIN_REDIRECT_URL_FAILURE, the login page with a message."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not settings.OIDC_ENABLED:
            raise Http404("OpenID Connect sign-in is not configured")
        return super().get(request)

    def login_success(self) -> HttpResponse:
        response = super().login_success()
        # A signed-in operator is a superuser: the session lasts a working day, then the
        # provider is asked again (and a revoked grant keeps them out).
        self.request.session.set_expiry(settings.OIDC_SESSION_SECONDS)
        return response
