"""The API's one permission rule (SPEC 8.1), the default of every view: reading needs
``viewer``, writing ``operator``; a view or action asks for more with ``required_role``
(exports: operator; keys and the audit log: admin). An authenticated account without a
role gets 403 everywhere but the token routes."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from accounts.roles import OPERATOR, VIEWER, has_role, phone_for


def required_role(request: Request, view: Any) -> str:
    explicit = getattr(view, "required_role", None)
    if explicit:
        return str(explicit)
    return VIEWER if request.method in SAFE_METHODS else OPERATOR


class HasRole(BasePermission):
    message = "Your account's role does not allow this."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        return has_role(user, required_role(request, view))


class MaskedPhones:
    """A serializer mixin: the fields named in ``masked_phone_fields`` are shown masked to
    anyone below ``operator`` (``7900***4567``)."""

    masked_phone_fields: tuple[str, ...] = ("phone",)

    def to_representation(self, instance: Any) -> Any:
        data = super().to_representation(instance)  # type: ignore[misc]
        request = self.context.get("request")  # type: ignore[attr-defined]
        user = getattr(request, "user", None)
        for name in self.masked_phone_fields:
            if data.get(name):
                data[name] = phone_for(user, data[name])
        return data


class SchemaPermission(BasePermission):
    """The OpenAPI document: public (Swagger UI reads it before anyone signs in), but an
    account without a role is refused, as on every other ``/api/`` route."""

    message = HasRole.message

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return True
        return has_role(user, VIEWER)
