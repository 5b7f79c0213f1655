from __future__ import annotations

from django.urls import path

from accounts.oidc import CallbackView, SignInView

# The names are mozilla-django-oidc's: it reverses the callback by this name.
urlpatterns = [
    path("authenticate/", SignInView.as_view(), name="oidc_authentication_init"),
    path("callback/", CallbackView.as_view(), name="oidc_authentication_callback"),
]
