from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from accounts.forms import AdminLoginForm
from accounts.models import OidcIdentity

# The login page offers the identity provider's button and, unless switched off, passwords.
admin.site.login_form = AdminLoginForm
admin.site.login_template = "accounts/login.html"


@admin.register(OidcIdentity)
class OidcIdentityAdmin(admin.ModelAdmin):
    list_display = ("user", "subject", "issuer", "created_at", "last_sign_in_at")
    search_fields = ("user__username", "user__email", "subject")
    readonly_fields = ("user", "issuer", "subject", "created_at", "last_sign_in_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # identities come from signing in
