from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.http import HttpRequest
from rest_framework_api_key.models import APIKey as LibraryApiKey

from accounts.admin_roles import AdminOnly, admin_site_has_permission
from accounts.forms import AdminLoginForm
from accounts.models import ApiKey, AuditEntry, OidcIdentity
from accounts.roles import role_of

# The login page offers the identity provider's button and, unless switched off, passwords.
admin.site.login_form = AdminLoginForm
admin.site.login_template = "accounts/login.html"
# The admin opens to an active account with a role; each page then asks for its own.
admin.site.has_permission = admin_site_has_permission  # type: ignore[method-assign]


# Users and groups (roles): admins only.
admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class RoleUserAdmin(AdminOnly, UserAdmin):
    audit_type = "user"
    list_display = ("username", "email", "role", "is_active", "last_login")

    @admin.display(description="role")
    def role(self, user: Any) -> str:
        return role_of(user) or "—"


@admin.register(Group)
class RoleGroupAdmin(AdminOnly, GroupAdmin):
    pass


@admin.register(OidcIdentity)
class OidcIdentityAdmin(AdminOnly):
    list_display = ("user", "subject", "issuer", "created_at", "last_sign_in_at")
    search_fields = ("user__username", "user__email", "subject")
    readonly_fields = ("user", "issuer", "subject", "created_at", "last_sign_in_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # identities come from signing in


@admin.register(AuditEntry)
class AuditEntryAdmin(AdminOnly):
    """Read-only: nobody adds, changes or deletes an entry."""

    list_display = ("at", "actor", "action", "object_id")
    list_filter = ("object_type", "action")
    search_fields = ("actor", "object_id")
    readonly_fields = ("at", "actor", "action", "object_type", "object_id", "details")

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# djangorestframework-api-key registers its own model; the service's keys carry a role.
admin.site.unregister(LibraryApiKey)


@admin.register(ApiKey)
class ApiKeyAdmin(AdminOnly):
    """Keys are made through the API (the key is shown once there); here, listed and
    revoked."""

    list_display = ("name", "role", "prefix", "created", "last_used_at", "revoked")
    readonly_fields = ("name", "role", "prefix", "created", "last_used_at")
    fields = ("name", "role", "prefix", "created", "last_used_at", "revoked")
    audit_type = "key"

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False
