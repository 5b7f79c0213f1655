"""All settings, read from the environment (see the README's configuration table).

Production differs from development only by environment variables: nothing here branches
on "production". The embedded defaults (a SQLite file and kombu's filesystem broker under
``DATA_DIR``) let the service run on a machine with only Python.
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from config import broker
from core.logging import lean_records, logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()


def _daily_window(name: str, value: str) -> tuple[time, time] | None:
    """``HH:MM-HH:MM`` as two times (start != end); empty: None."""
    if not value.strip():
        return None
    try:
        start, end = (time.fromisoformat(part.strip()) for part in value.split("-"))
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be HH:MM-HH:MM or empty, not {value!r}") from exc
    if start == end:
        raise ImproperlyConfigured(f"{name}: the start and the end must differ")
    return start, end


def _decimal_or_none(name: str, value: str) -> Decimal | None:
    if not value.strip():
        return None
    try:
        amount = Decimal(value.strip())
    except InvalidOperation as exc:
        raise ImproperlyConfigured(f"{name} must be a decimal number, not {value!r}") from exc
    if not amount.is_finite() or amount < 0:
        raise ImproperlyConfigured(f"{name} must be a finite number >= 0, not {value!r}")
    return amount


DATA_DIR = Path(env("DATA_DIR", default=str(BASE_DIR / ".data")))

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. `make run` generates one under DATA_DIR; in production set it "
        "in the environment."
    )
# The placeholders shipped in this repository (.env.example, deploy/k8s/secret.yaml): anyone
# can read them, so a key equal to one signs tokens for anyone.
PLACEHOLDER_SECRET_KEYS = frozenset(
    {"change-me-to-a-long-random-string", "replace-with-a-long-random-string"}
)
if not DEBUG and (
    len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY in PLACEHOLDER_SECRET_KEYS
):
    raise ImproperlyConfigured(
        "SECRET_KEY is too weak: use at least 50 characters, at least 5 of them distinct, "
        "not a placeholder from this repository (e.g. python -c 'import secrets; "
        "print(secrets.token_urlsafe(50))')."
    )
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "rest_framework_api_key",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "core",
    "clients",
    "stoplist",
    "mailings",
    "delivery",
    "reports",
    "accounts",
]

MIDDLEWARE = [
    "core.metrics.RequestMetricsMiddleware",
    "core.middleware.RequestLogMiddleware",
    "core.contract.ApiJsonErrorsMiddleware",
    "core.contract.BodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so that it sees a view's exception first: a lost database is a 503, not a 500.
    "core.database.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.sign_in",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the one writer; IMMEDIATE transactions take the write lock
    # up front, so concurrent writers wait (up to `timeout`) instead of failing on upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    # A file, not memory: end-to-end tests run workers in other processes.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test_db.sqlite3")}
else:
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Django's, with the check of a reused connection made without a round trip.
        DATABASES["default"]["ENGINE"] = "core.postgresql"
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Bodies: every route at most MAX_REQUEST_BYTES, the import routes MAX_IMPORT_BYTES; larger
# is a 413 answered from Content-Length (core/contract.py). Django's own cap is the larger.
MAX_REQUEST_BYTES = env.int("MAX_REQUEST_BYTES", default=2_621_440)
MAX_IMPORT_BYTES = env.int("MAX_IMPORT_BYTES", default=209_715_200)
DATA_UPLOAD_MAX_MEMORY_SIZE = max(MAX_REQUEST_BYTES, MAX_IMPORT_BYTES)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000

# --- API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.JWTAuthentication",
        "accounts.apikeys.ApiKeyAuthentication",  # Authorization: Api-Key <key>
    ],
    # Reads need the viewer role, writes operator (accounts.permissions); no role: 403.
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.HasRole"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.PageNumberPagination",
    "PAGE_SIZE": env.int("API_PAGE_SIZE", default=50),
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON only; the import routes also take multipart (their own parser_classes).
    # DRF's JSON parser with SPEC 8.1's rules: at most 32 levels, no NUL, no lone surrogate.
    "DEFAULT_PARSER_CLASSES": ["core.parsers.SafeJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.exceptions.exception_handler",
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_REFRESH_MINUTES", default=24 * 60)),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": False,
    # SPEC 8.1: a refresh rotates and the used one is refused; a password change ends every
    # token issued before it (a digest of the password hash in each token).
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "CHECK_REVOKE_TOKEN": True,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Mailing service API",
    "DESCRIPTION": (
        "Clients, mailings and delivery statistics. Get a token with "
        "`POST /api/auth/token/`, then send `Authorization: Bearer <access>`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["accounts.permissions.SchemaPermission"],
    "SERVE_AUTHENTICATION": ["accounts.authentication.JWTAuthentication"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Tags and operation ids from the part after /api/ (clients, mailings, auth).
    "SCHEMA_PATH_PREFIX": r"/api/",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.openapi.document_every_answer",
    ],
    "ENUM_NAME_OVERRIDES": {
        "MailingStatusEnum": "mailings.models.MailingStatus",
        "MessageStatusEnum": "mailings.models.MessageStatus",
        "TestSendStatusEnum": "mailings.models.TestSendStatus",
        "MailingKindEnum": "mailings.models.Kind",
        "StopListSourceEnum": "stoplist.models.Source",
    },
}

# --- Celery ---------------------------------------------------------------------------------
BROKER_DIR = Path(env("BROKER_DIR", default=str(DATA_DIR / "broker")))
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # Atomic writes, and the folders made on first use, all under BROKER_DIR.
    CELERY_BROKER_TRANSPORT = "config.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = broker.transport_options(BROKER_DIR)
else:
    # Fail fast when the broker is down: publishing is best effort (see mailings/services.py).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2}
# Django's cache: sign-in counts shared by every process (accounts/signin.py). With a Redis
# broker, the same Redis in its own database (the next one); otherwise a database table
# (made by the accounts migration 0003).
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    _broker_db = re.search(r"/(\d+)$", CELERY_BROKER_URL)
    _cache_url = (
        CELERY_BROKER_URL[: _broker_db.start()] + f"/{int(_broker_db.group(1)) + 1}"
        if _broker_db
        else CELERY_BROKER_URL.rstrip("/") + "/1"
    )
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": env("CACHE_URL", default=_cache_url),
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "django_cache",
        }
    }
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}
CELERY_TASK_IGNORE_RESULT = True
# Tasks are acknowledged on receipt. Recovery never relies on the broker redelivering a
# task: due work lives in the database and every tick finds it again. (With late acks, a
# broker connection loss while a task runs crashes the worker in kombu's Redis transport:
# the unacked restore dereferences the closed connection.)
CELERY_TASK_ACKS_LATE = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Celery logs through Django's LOGGING (JSON or text, with the context keys).
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
# Due times live in the database; beat only ticks. See delivery/tasks.py.
SCHEDULER_TICK_SECONDS = env.float("SCHEDULER_TICK_SECONDS", default=1.0)
CELERY_TASK_ROUTES = {"delivery.tasks.dispatch": {"queue": "dispatch"}}
CELERY_BEAT_SCHEDULE = broker.beat_schedule(tick_seconds=SCHEDULER_TICK_SECONDS)

# --- Gateway and delivery (SPEC section 5) ---------------------------------------------------
GATEWAY_URL = env("GATEWAY_URL", default="http://127.0.0.1:8001")
GATEWAY_TOKEN = env("GATEWAY_TOKEN", default="")
GATEWAY_TIMEOUT_SECONDS = env.float("GATEWAY_TIMEOUT_SECONDS", default=10.0)
# Retry policy: exponential backoff from BASE, doubling, capped at CAP, with full jitter.
DELIVERY_MAX_ATTEMPTS = env.int("DELIVERY_MAX_ATTEMPTS", default=10)
DELIVERY_BACKOFF_BASE_SECONDS = env.float("DELIVERY_BACKOFF_BASE_SECONDS", default=1.0)
DELIVERY_BACKOFF_CAP_SECONDS = env.float("DELIVERY_BACKOFF_CAP_SECONDS", default=300.0)
# No request starts this close to a mailing's end time, so none reaches the gateway after it.
DELIVERY_END_GUARD_SECONDS = env.float("DELIVERY_END_GUARD_SECONDS", default=0.25)
# Circuit breaker: opens after this many consecutive transient failures, probes after RESET.
BREAKER_FAILURE_THRESHOLD = env.int("BREAKER_FAILURE_THRESHOLD", default=20)
BREAKER_RESET_SECONDS = env.float("BREAKER_RESET_SECONDS", default=30.0)
# After a 401/403 from the gateway every dispatcher pauses this long.
CREDENTIALS_PAUSE_SECONDS = env.float("CREDENTIALS_PAUSE_SECONDS", default=60.0)
# Dispatchers: how many run at once (across all workers), requests each keeps in flight,
# how long one task runs before it hands over, and how long a claimed message is leased.
DISPATCH_SLOTS = env.int("DISPATCH_SLOTS", default=2)
DISPATCH_MAX_IN_FLIGHT = env.int("DISPATCH_MAX_IN_FLIGHT", default=1000)
DISPATCH_TASK_SECONDS = env.float("DISPATCH_TASK_SECONDS", default=20.0)
# A dispatcher with nothing due for this long hands its slot back (the tick starts another).
DISPATCH_IDLE_SECONDS = env.float("DISPATCH_IDLE_SECONDS", default=2.0)
DISPATCH_LEASE_SECONDS = env.float("DISPATCH_LEASE_SECONDS", default=GATEWAY_TIMEOUT_SECONDS + 20.0)
# A mailing pauses itself when this share of its first outcomes failed (SPEC 8.5).
AUTO_PAUSE_FAILED_RATIO = env.float("AUTO_PAUSE_FAILED_RATIO", default=0.5)
AUTO_PAUSE_MIN_OUTCOMES = env.int("AUTO_PAUSE_MIN_OUTCOMES", default=100)
# Segments per second over all workers together (0: no limit), and the burst above it.
GATEWAY_RATE = env.float("GATEWAY_RATE", default=0.0)
GATEWAY_BURST = env.float("GATEWAY_BURST", default=0.0) or GATEWAY_RATE
# /metrics needs `Authorization: Bearer <METRICS_TOKEN>` when set (empty: open).
METRICS_TOKEN = env("METRICS_TOKEN", default="")

# --- Compliance and cost (SPEC 8.3, 8.4) ---------------------------------------------------
# An advertising mailing without a send window goes out in this daily window of each
# client's local time ("HH:MM-HH:MM"; empty: any time).
ADVERTISING_WINDOW = _daily_window(
    "ADVERTISING_WINDOW", env("ADVERTISING_WINDOW", default="09:00-21:00")
)
# The longest text a mailing may have, in SMS segments.
MAX_SEGMENTS = env.int("MAX_SEGMENTS", default=6)
# The price of one segment (a decimal, e.g. 2.50; empty: unknown) and its currency.
PRICE_PER_SEGMENT = _decimal_or_none("PRICE_PER_SEGMENT", env("PRICE_PER_SEGMENT", default=""))
CURRENCY = env("CURRENCY", default="RUB")
# How long a test send keeps retrying before it counts as failed.
TEST_SEND_RETRY_SECONDS = env.float("TEST_SEND_RETRY_SECONDS", default=600.0)

# After the scheduler was gone (a database outage), leases lapse only once it has ticked this
# long again: time for a dispatcher that lived through the outage to renew its own.
RECOVERY_GRACE_SECONDS = env.float("RECOVERY_GRACE_SECONDS", default=15.0)

# --- Admin bootstrap (used by `manage.py ensure_admin`) ------------------------------------
ADMIN_USERNAME = env("ADMIN_USERNAME", default="admin")
ADMIN_PASSWORD = env("ADMIN_PASSWORD", default="")

# --- Admin sign-in: local passwords and/or OpenID Connect (see accounts/) ------------------
# Passwords on the admin's login page; off leaves only the identity provider. (API clients
# get their tokens with a password at /api/auth/token/ either way.)
ADMIN_PASSWORD_LOGIN = env.bool("ADMIN_PASSWORD_LOGIN", default=True)
# The provider's issuer URL (its discovery document is ISSUER/.well-known/openid-configuration).
# Empty: no OpenID Connect sign-in.
# Exactly as the provider writes it in its tokens (Auth0's ends with "/", Keycloak's does not).
OIDC_ISSUER = env("OIDC_ISSUER", default="")
OIDC_ENABLED = bool(OIDC_ISSUER)
OIDC_RP_CLIENT_ID = env("OIDC_CLIENT_ID", default="")
OIDC_RP_CLIENT_SECRET = env("OIDC_CLIENT_SECRET", default="")
OIDC_RP_SCOPES = env("OIDC_SCOPES", default="openid email profile")
OIDC_RP_SIGN_ALGO = env("OIDC_SIGN_ALGO", default="RS256")
# Who gets into the admin: accounts whose claim OIDC_ADMIN_CLAIM (a dotted path reaches into
# nested claims, e.g. realm_access.roles) is or contains OIDC_ADMIN_VALUE; "*" lets in every
# account the provider signs in.
OIDC_ADMIN_CLAIM = env("OIDC_ADMIN_CLAIM", default="groups")
OIDC_ADMIN_VALUE = env("OIDC_ADMIN_VALUE", default="")
OIDC_OPERATOR_VALUE = env("OIDC_OPERATOR_VALUE", default="")
OIDC_VIEWER_VALUE = env("OIDC_VIEWER_VALUE", default="")
OIDC_PROVIDER_NAME = env("OIDC_PROVIDER_NAME", default="single sign-on")
# A session from the provider lasts this long; then the provider is asked again.
OIDC_SESSION_SECONDS = env.int("OIDC_SESSION_SECONDS", default=8 * 3600)
OIDC_TIMEOUT = env.float("OIDC_TIMEOUT_SECONDS", default=10.0)
OIDC_USE_PKCE = True
LOGIN_REDIRECT_URL = "/admin/"
LOGIN_REDIRECT_URL_FAILURE = "/admin/login/?sso=failed"
if OIDC_ENABLED and not (OIDC_RP_CLIENT_ID and OIDC_RP_CLIENT_SECRET and OIDC_ADMIN_VALUE):
    raise ImproperlyConfigured(
        "OIDC_ISSUER is set: set OIDC_CLIENT_ID, OIDC_CLIENT_SECRET and OIDC_ADMIN_VALUE too "
        '(the group or claim value that grants the admin; "*" for every account).'
    )
if not ADMIN_PASSWORD_LOGIN and not OIDC_ENABLED:
    raise ImproperlyConfigured(
        "ADMIN_PASSWORD_LOGIN is off and OIDC_ISSUER is not set: nobody could sign in."
    )
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "accounts.oidc.OidcBackend",  # does nothing without OIDC_ISSUER
]
# Behind a TLS-terminating proxy, the callback URL sent to the provider must say https.
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Transport security (SPEC 8.1), off by default for `make run` on plain HTTP; the compose
# and Kubernetes production settings switch them on (`manage.py check --deploy` passes).
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
# The probes and the metrics scrape come over plain HTTP from inside the cluster.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]

# --- E-mail (daily report) ------------------------------------------------------------------
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="mailing-service@localhost")
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)
# The daily statistics report: who gets it, and when (local time in REPORT_TIMEZONE). It
# covers the 24 hours before that time. No recipients: no report.
REPORT_RECIPIENTS = env.list("REPORT_RECIPIENTS", default=[])
REPORT_TIME = env("REPORT_TIME", default="08:00")
REPORT_TIMEZONE = env("REPORT_TIMEZONE", default="UTC")

# --- Logging --------------------------------------------------------------------------------
LOG_FORMAT = env("LOG_FORMAT", default="json")
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING = logging_config(fmt=LOG_FORMAT, level=LOG_LEVEL)
lean_records()
