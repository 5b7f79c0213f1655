"""The identity provider's endpoints and keys, from its discovery document (OpenID Connect
Discovery 1.0), fetched on first use and kept for an hour."""

from __future__ import annotations

import threading
import time
from typing import Any

import requests
from django.conf import settings

# How long the provider's discovery document is trusted before it is fetched again.
DISCOVERY_TTL_SECONDS = 3600.0


class DiscoveryError(Exception):
    """The provider's discovery document could not be fetched or is not usable."""


_metadata_lock = threading.Lock()
_metadata: dict[str, tuple[float, dict[str, Any]]] = {}


def provider_metadata() -> dict[str, Any]:
    """The provider's discovery document (OpenID Connect Discovery 1.0), cached for an hour."""
    issuer = settings.OIDC_ISSUER
    with _metadata_lock:
        cached = _metadata.get(issuer)
        if cached and time.monotonic() - cached[0] < DISCOVERY_TTL_SECONDS:
            return cached[1]
    # The issuer is compared exactly (Auth0's ends with a slash, Keycloak's does not).
    url = f"{issuer.rstrip('/')}/.well-known/openid-configuration"
    try:
        response = requests.get(url, timeout=settings.OIDC_TIMEOUT)
        response.raise_for_status()
        metadata = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise DiscoveryError(f"cannot read {url}: {exc}") from exc
    if not isinstance(metadata, dict):
        raise DiscoveryError(f"{url} is not a JSON object")
    if metadata.get("issuer") != issuer:
        # Discovery 1.0, section 4.3: the issuer in the document must be the one asked for.
        raise DiscoveryError(f"{url} names another issuer: {metadata.get('issuer')!r}")
    missing = [
        k for k in ("authorization_endpoint", "token_endpoint", "jwks_uri") if k not in metadata
    ]
    if missing:
        raise DiscoveryError(f"{url} lacks {', '.join(missing)}")
    with _metadata_lock:
        _metadata[issuer] = (time.monotonic(), metadata)
    return metadata


def forget_provider_metadata() -> None:
    with _metadata_lock:
        _metadata.clear()
