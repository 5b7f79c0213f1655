"""A real OpenID Connect provider for the tests, in a process of its own.

It is django-oauth-toolkit with OpenID Connect switched on (RS256 ID tokens, discovery,
JWKS, userinfo, PKCE), a plain login form, and a ``groups`` claim from the user's Django
groups. The service signs in against it exactly as against Keycloak or Auth0: by its issuer
URL, a client id and a secret.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from e2e.stack import ROOT, free_port, wait_until

# Where the service's callback may be (any port: loopback redirect URIs, RFC 8252).
CALLBACKS = ["http://127.0.0.1/oidc/callback/", "http://localhost/oidc/callback/"]


def rsa_private_key_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


class IdentityProvider:
    def __init__(self, *, users: list[dict[str, Any]], clients: list[dict[str, str]]) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="oidc-provider-"))
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}/o"
        self.config = {
            "users": users,
            "clients": [{**client, "redirect_uris": CALLBACKS} for client in clients],
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    def start(self) -> IdentityProvider:
        config = self.tmp / "config.json"
        config.write_text(json.dumps(self.config))
        env = {
            **os.environ,
            "IDP_PORT": str(self.port),
            "IDP_DB": str(self.tmp / "idp.sqlite3"),
            "IDP_RSA_KEY": rsa_private_key_pem(),
        }
        env.pop("DJANGO_SETTINGS_MODULE", None)
        self._log = (self.tmp / "idp.log").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "e2e.oidc_provider.serve", str(config)],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        wait_until(self._ready, timeout=60, what="the test identity provider")
        return self

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"the identity provider exited:\n{self.log()}")
        import urllib.request

        try:
            with urllib.request.urlopen(
                f"{self.issuer}/.well-known/openid-configuration", timeout=1
            ) as answer:
                return bool(answer.status == 200)
        except OSError:
            return False

    def log(self) -> str:
        return (self.tmp / "idp.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self._log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


# The directory the tests sign in with: Ann runs mailings, Bob is in another team.
ADMIN_GROUP = "mailing-admins"
USERS = [
    {
        "username": "ann",
        "password": "ann-idp-pass-1",
        "email": "ann@example.com",
        "first_name": "Ann",
        "last_name": "Operator",
        "groups": [ADMIN_GROUP, "staff"],
    },
    {
        "username": "bob",
        "password": "bob-idp-pass-1",
        "email": "bob@example.com",
        "first_name": "Bob",
        "groups": ["sales"],
    },
]
CLIENT = {"client_id": "mailing-service", "client_secret": "idp-client-secret-for-tests"}


def start_test_provider() -> IdentityProvider:
    return IdentityProvider(users=USERS, clients=[CLIENT]).start()


def service_env(provider: IdentityProvider) -> dict[str, str]:
    """The service's environment for signing in against ``provider``."""
    return {
        "OIDC_ISSUER": provider.issuer,
        "OIDC_CLIENT_ID": CLIENT["client_id"],
        "OIDC_CLIENT_SECRET": CLIENT["client_secret"],
        "OIDC_SCOPES": "openid email profile groups",
        "OIDC_ADMIN_CLAIM": "groups",
        "OIDC_ADMIN_VALUE": ADMIN_GROUP,
        "OIDC_PROVIDER_NAME": "Test IdP",
    }
