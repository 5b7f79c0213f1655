"""The token routes beyond simplejwt's defaults (SPEC 8.1): a refresh rotates (the used
refresh token is blacklisted), logout blacklists a refresh token, and a password change or a
deactivation ends every token issued before it.

simplejwt does most of it: ``token_blacklist``, ``ROTATE_REFRESH_TOKENS`` with
``BLACKLIST_AFTER_ROTATION``, and ``CHECK_REVOKE_TOKEN``, which puts a digest of the
password hash in every token and refuses an access token whose digest no longer matches.
What it leaves out is the same check on a refresh, and a logout that answers 204.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import get_md5_hash_password
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from accounts import signin
from core.openapi import ERROR_RESPONSES, TOO_MANY_SIGN_INS, VALIDATION_ERROR

REFUSED = "This refresh token is no longer valid: sign in again."


class RotatingRefreshSerializer(TokenRefreshSerializer):
    """simplejwt's refresh, refusing a token from before a password change, or of a user
    who is gone or inactive (a 401, never a server error)."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        try:
            refresh = RefreshToken(attrs["refresh"])
        except TokenError as exc:
            raise InvalidToken(str(exc)) from exc
        user_id = refresh.payload.get(api_settings.USER_ID_CLAIM)
        user = get_user_model().objects.filter(**{api_settings.USER_ID_FIELD: user_id}).first()
        if user is None or not user.is_active:
            raise AuthenticationFailed(REFUSED, "no_active_account")
        digest = refresh.payload.get(api_settings.REVOKE_TOKEN_CLAIM)
        if digest != get_md5_hash_password(user.password):
            raise AuthenticationFailed(REFUSED, "password_changed")
        return super().validate(attrs)


class SignInView(TokenObtainPairView):
    """``POST /api/auth/token/``, throttled (``accounts.signin``): a locked username or
    address gets 429 with ``Retry-After`` before its password is even checked."""

    @extend_schema(
        summary="A token pair from a username and a password",
        responses={
            200: inline_serializer(
                "TokenObtainPair",
                {"access": serializers.CharField(), "refresh": serializers.CharField()},
            ),
            400: VALIDATION_ERROR,
            429: TOO_MANY_SIGN_INS,
            **ERROR_RESPONSES,
        },
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        username = str(data.get("username") or "")[:150]
        address = signin.client_address(request)
        wait = signin.seconds_locked(username, address)
        if wait:
            return Response(
                {"detail": signin.locked_message(wait)},
                status=status.HTTP_429_TOO_MANY_REQUESTS,
                headers={"Retry-After": str(wait)},
            )
        try:
            return super().post(request, *args, **kwargs)
        except AuthenticationFailed:
            signin.record_failure(username, address)
            raise


class RefreshView(TokenRefreshView):
    serializer_class = RotatingRefreshSerializer


LogoutRequest = inline_serializer("LogoutRequest", {"refresh": serializers.CharField()})


class LogoutView(APIView):
    """``POST /api/auth/logout/ {"refresh"}``: that refresh token is refused from now on."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    def get_authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'  # a bad token is a 401 (DRF makes it 403 without one)

    @extend_schema(
        summary="Sign out: the refresh token is refused from now on",
        request=LogoutRequest,
        responses={204: None, 400: VALIDATION_ERROR, **ERROR_RESPONSES},
    )
    def post(self, request: Request) -> Response:
        given = request.data.get("refresh") if isinstance(request.data, dict) else None
        if not isinstance(given, str) or not given:
            raise serializers.ValidationError({"refresh": ["This field is required."]})
        try:
            RefreshToken(given).blacklist()  # type: ignore[arg-type]
        except TokenError as exc:
            raise InvalidToken(str(exc)) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)
