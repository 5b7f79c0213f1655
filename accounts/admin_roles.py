"""Roles in the admin (SPEC 8.1): the same rule as the API, on every page, action and
import. Viewers read, with phones masked; operators write; admins alone see users, groups,
identities (and, later, keys and the audit log). No role: no admin at all."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from accounts.audit import audit_record
from accounts.roles import ADMIN, OPERATOR, VIEWER, has_role, role_of
from core.logging import mask_phone


def admin_site_has_permission(request: HttpRequest) -> bool:
    """Whether the admin opens at all: an active account with a role."""
    return bool(request.user.is_active and role_of(request.user) is not None)


class RoleAdmin(admin.ModelAdmin):
    """Reading needs ``read_role``, writing ``write_role`` (viewer / operator by default; an
    admin-only model sets both to admin). Phones in ``masked_phone_fields`` are shown
    masked, and read-only, to anyone below operator."""

    read_role = VIEWER
    write_role = OPERATOR
    masked_phone_fields: tuple[str, ...] = ()
    # The audit log's object type of this page's writes (None: not audited).
    audit_type: str | None = None

    # Django's admin logs each add, change and delete through these: the audit log too.
    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        self._audit(request, "create", obj)
        return super().log_addition(request, obj, message)

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        self._audit(request, "update", obj)
        return super().log_change(request, obj, message)

    def log_deletions(self, request: HttpRequest, queryset: Any) -> Any:
        for obj in queryset:
            self._audit(request, "delete", obj)
        return super().log_deletions(request, queryset)

    def _audit(self, request: HttpRequest, verb: str, obj: Any) -> None:
        if self.audit_type is not None:
            object_id = getattr(obj, "phone", None) if self.audit_type == "stoplist" else obj.pk
            audit_record(
                actor=request.user,
                action=f"{self.audit_type}.{verb}",
                object_id=object_id,
                details={"via": "admin"},
            )

    def has_module_permission(self, request: HttpRequest) -> bool:
        return has_role(request.user, self.read_role)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return has_role(request.user, self.read_role)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return has_role(request.user, self.write_role)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return has_role(request.user, self.write_role)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return has_role(request.user, self.write_role)

    def sees_full_phones(self, request: HttpRequest) -> bool:
        return has_role(request.user, OPERATOR)

    def get_list_display(self, request: HttpRequest) -> Any:
        shown = list(super().get_list_display(request))
        if self.sees_full_phones(request):
            return shown
        return [f"masked_{n}" if n in self.masked_phone_fields else n for n in shown]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_fields(request, obj))
        if self.sees_full_phones(request):
            return fields
        return [f"masked_{n}" if n in self.masked_phone_fields else n for n in fields]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        readonly = list(super().get_readonly_fields(request, obj))
        if self.sees_full_phones(request):
            return readonly
        return [n for n in readonly if n not in self.masked_phone_fields] + [
            f"masked_{n}" for n in self.masked_phone_fields
        ]

    def __getattr__(self, name: str) -> Any:
        # masked_<field>: a display callable for a viewer's list and page.
        if name.startswith("masked_") and name[7:] in type(self).masked_phone_fields:
            field = name[7:]

            def shown(obj: Any) -> str:
                return mask_phone(getattr(obj, field))

            shown.short_description = field  # type: ignore[attr-defined]
            return shown
        raise AttributeError(name)


class AdminOnly(RoleAdmin):
    read_role = ADMIN
    write_role = ADMIN
