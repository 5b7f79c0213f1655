"""Settings of the test identity provider: django-oauth-toolkit with OpenID Connect on.

It runs in a process of its own (see ``serve.py``), never inside the service. Everything
it needs comes from the environment ``serve.py`` sets up: its port, database file and the
RSA key it signs ID tokens with.
"""

from __future__ import annotations

import os
from pathlib import Path

PORT = int(os.environ["IDP_PORT"])
ISSUER = f"http://127.0.0.1:{PORT}/o"

SECRET_KEY = "test-identity-provider-" + "x" * 40  # a throwaway test process
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "e2e.oidc_provider.urls"
USE_TZ = True
TIME_ZONE = "UTC"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "oauth2_provider",
    "e2e.oidc_provider",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    },
]
DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": Path(os.environ["IDP_DB"])},
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# The service under test may run on the same host name: keep the cookies apart.
SESSION_COOKIE_NAME = "idp_session"
CSRF_COOKIE_NAME = "idp_csrftoken"
LOGIN_URL = "/accounts/login/"

OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_ISS_ENDPOINT": ISSUER,
    "OIDC_RSA_PRIVATE_KEY": os.environ["IDP_RSA_KEY"],
    "OAUTH2_VALIDATOR_CLASS": "e2e.oidc_provider.claims.ClaimsValidator",
    "SCOPES": {
        "openid": "OpenID Connect",
        "email": "E-mail address",
        "profile": "Name",
        "groups": "Group membership",
    },
    "PKCE_REQUIRED": True,
    # The service's callback on any port of localhost or 127.0.0.1 (RFC 8252, section 7.3).
    "ALLOW_LOCALHOST_LOOPBACK": True,
}
