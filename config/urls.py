from __future__ import annotations

from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts.api import ApiKeyViewSet, AuditViewSet
from accounts.tokens import LogoutView, RefreshView, SignInView
from core.routers import Router
from core.views import ApiRootView, healthz, metrics, readyz
from reports.dashboard import dashboard

admin.site.site_header = "Mailing service"
admin.site.site_title = "Mailing service"
admin.site.site_url = "/admin/dashboard/"  # the header's "View site" opens the dashboard

audit_router = Router()
audit_router.register("audit", AuditViewSet, basename="audit")
audit_router.register("keys", ApiKeyViewSet, basename="key")

api_patterns: list[URLPattern | URLResolver] = [
    path("", ApiRootView.as_view(), name="api-root"),
    path("auth/token/", SignInView.as_view(), name="token-obtain"),
    path("auth/token/refresh/", RefreshView.as_view(), name="token-refresh"),
    path("auth/logout/", LogoutView.as_view(), name="token-logout"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("", include("clients.urls")),
    path("", include("stoplist.urls")),
    path("", include(audit_router.urls)),
    path("", include("mailings.urls")),
]

urlpatterns = [
    path("api/", include(api_patterns)),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("admin/dashboard/", dashboard, name="admin-dashboard"),
    path("admin/", admin.site.urls),
    path("oidc/", include("accounts.urls")),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
]
