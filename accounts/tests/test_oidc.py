"""The pieces of OpenID Connect sign-in that need no provider: who the claims let in, the ID
token checks the library leaves out, usernames, discovery's sanity checks, the login page
and the settings' own checks. The flow itself is in test_oidc_flow.py."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any
from unittest import mock

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.exceptions import SuspiciousOperation
from django.test import Client, RequestFactory

from accounts import discovery, oidc


@pytest.fixture
def grant(settings: Any) -> Any:
    settings.OIDC_ADMIN_CLAIM = "groups"
    settings.OIDC_ADMIN_VALUE = "mailing-admins"
    return settings


@pytest.mark.parametrize(
    ("claim", "value", "claims", "expected"),
    [
        ("groups", "mailing-admins", {"groups": ["sales", "mailing-admins"]}, True),
        ("groups", "mailing-admins", {"groups": ["sales"]}, False),
        ("groups", "mailing-admins", {"groups": []}, False),
        ("groups", "mailing-admins", {}, False),
        ("groups", "mailing-admins", {"groups": "mailing-admins"}, True),
        ("groups", "mailing-admins", {"groups": "mailing-admins-old"}, False),
        ("hd", "example.com", {"hd": "example.com"}, True),
        ("hd", "example.com", {"hd": "evil.example"}, False),
        ("realm_access.roles", "ops", {"realm_access": {"roles": ["ops"]}}, True),
        ("realm_access.roles", "ops", {"realm_access": {"roles": ["dev"]}}, False),
        ("realm_access.roles", "ops", {"realm_access": "ops"}, False),
        ("https://example.com/roles", "ops", {"https://example.com/roles": ["ops"]}, True),
        ("is_operator", "true", {"is_operator": True}, True),
        ("is_operator", "true", {"is_operator": False}, False),
        ("groups", "*", {}, True),
    ],
)
def test_who_the_claims_let_into_the_admin(
    settings: Any, claim: str, value: str, claims: dict[str, Any], expected: bool
) -> None:
    settings.OIDC_ADMIN_CLAIM = claim
    settings.OIDC_ADMIN_VALUE = value
    assert oidc.grants_admin(claims) is expected


ISSUER = "https://id.example.com/realms/ops"
GOOD = {"iss": ISSUER, "aud": "mailing", "sub": "42", "exp": 2_000_000_000}


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"iss": "https://evil.example.com"}, "another issuer"),
        ({"aud": "other-app"}, "another client"),
        ({"aud": ["other-app"]}, "another client"),
        ({"aud": ["mailing", "other-app"]}, "another party"),
        ({"aud": ["mailing", "other-app"], "azp": "other-app"}, "another party"),
        ({"sub": ""}, "without exp or sub"),
        ({"exp": None}, "without exp or sub"),
    ],
)
def test_an_id_token_for_another_issuer_or_client_is_refused(
    changes: dict[str, Any], error: str
) -> None:
    payload = {**GOOD, **changes}
    payload = {k: v for k, v in payload.items() if v is not None}
    with pytest.raises(SuspiciousOperation, match=error):
        oidc.check_id_token(payload, issuer=ISSUER, client_id="mailing")


@pytest.mark.parametrize(
    "payload",
    [GOOD, {**GOOD, "aud": ["mailing"]}, {**GOOD, "aud": ["mailing", "api"], "azp": "mailing"}],
)
def test_a_good_id_token_passes_and_names_its_subject(payload: dict[str, Any]) -> None:
    assert oidc.check_id_token(payload, issuer=ISSUER, client_id="mailing") == "42"


@pytest.mark.django_db
def test_usernames_are_readable_valid_and_never_taken_over() -> None:
    get_user_model().objects.create_user("ann")

    assert oidc.username_for({"sub": "1", "preferred_username": "ann"}) == "ann-2"
    assert oidc.username_for({"sub": "2", "email": "bob@example.com"}) == "bob@example.com"
    assert oidc.username_for({"sub": "auth0|5f1e"}) == "auth0-5f1e"
    assert oidc.username_for({"sub": "3", "preferred_username": "Jöns Jacob"}) == "Jöns-Jacob"


def discovery_answer(document: Any) -> mock.Mock:
    answer = mock.Mock()
    answer.json.return_value = document
    answer.raise_for_status.return_value = None
    return answer


@pytest.mark.parametrize(
    ("document", "error"),
    [
        ({"issuer": "https://evil.example.com"}, "names another issuer"),
        ({"issuer": ISSUER, "authorization_endpoint": "x"}, "lacks token_endpoint, jwks_uri"),
        (["not", "an", "object"], "is not a JSON object"),
    ],
)
def test_a_discovery_document_that_does_not_fit_is_refused(
    settings: Any, document: Any, error: str
) -> None:
    settings.OIDC_ISSUER = ISSUER
    discovery.forget_provider_metadata()
    with (
        mock.patch.object(discovery.requests, "get", return_value=discovery_answer(document)),
        pytest.raises(discovery.DiscoveryError, match=error),
    ):
        discovery.provider_metadata()


@pytest.mark.parametrize(
    ("issuer", "discovery_url"),
    [
        (ISSUER, f"{ISSUER}/.well-known/openid-configuration"),
        # Auth0 writes its issuer with a slash, in tokens too: kept exactly, no "//" in URLs.
        (
            "https://example.eu.auth0.com/",
            "https://example.eu.auth0.com/.well-known/openid-configuration",
        ),
    ],
)
def test_the_discovery_document_is_fetched_once_and_the_issuer_kept_exactly(
    settings: Any, issuer: str, discovery_url: str
) -> None:
    settings.OIDC_ISSUER = issuer
    discovery.forget_provider_metadata()
    document = {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/auth",
        "token_endpoint": f"{issuer}/token",
        "jwks_uri": f"{issuer}/certs",
    }
    with mock.patch.object(
        discovery.requests, "get", return_value=discovery_answer(document)
    ) as get:
        assert discovery.provider_metadata() == document
        assert discovery.provider_metadata() == document
    get.assert_called_once_with(discovery_url, timeout=10.0)
    oidc.check_id_token({**GOOD, "iss": issuer}, issuer=issuer, client_id="mailing")
    with pytest.raises(SuspiciousOperation, match="another issuer"):
        other = issuer.rstrip("/") if issuer.endswith("/") else f"{issuer}/"
        oidc.check_id_token({**GOOD, "iss": other}, issuer=issuer, client_id="mailing")
    discovery.forget_provider_metadata()


@pytest.mark.django_db
def test_password_sign_in_never_touches_the_provider(settings: Any) -> None:
    settings.OIDC_ENABLED = True
    settings.OIDC_ISSUER = ISSUER
    discovery.forget_provider_metadata()
    user = get_user_model().objects.create_user("local", password="local-pass-1")
    request = RequestFactory().post("/api/auth/token/")

    with mock.patch.object(discovery.requests, "get", side_effect=AssertionError("network")):
        assert authenticate(request, username="local", password="local-pass-1") == user
        assert authenticate(request, username="local", password="wrong") is None


@pytest.mark.django_db
def test_without_a_provider_the_login_page_is_the_password_form_alone(settings: Any) -> None:
    settings.OIDC_ENABLED = False
    client = Client()

    page = client.get("/admin/login/")
    assert 'id="login-form"' in page.content.decode()
    assert "sso-sign-in" not in page.content.decode()
    assert client.get("/oidc/authenticate/").status_code == 404
    assert client.get("/oidc/callback/?code=x&state=y").status_code == 404


@pytest.mark.django_db
def test_with_a_provider_the_login_page_offers_both(settings: Any) -> None:
    settings.OIDC_ENABLED = True
    settings.OIDC_PROVIDER_NAME = "Keycloak"

    body = Client().get("/admin/login/?next=/admin/mailings/").content.decode()
    assert 'id="login-form"' in body
    assert 'href="/oidc/authenticate/?next=/admin/mailings/"' in body
    assert "Sign in with Keycloak" in body


def load_settings(**environ: str) -> str:
    """The settings module loaded in a fresh process: its error's last line, or the issuer."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OIDC_", "ADMIN_"))}
    env.update({"SECRET_KEY": "oidc-test-key-" + "x" * 40, **environ})
    done = subprocess.run(
        [sys.executable, "-c", "import config.settings as s; print(repr(s.OIDC_ISSUER))"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stderr.strip().splitlines()[-1] if done.returncode else done.stdout.strip()


OIDC_ENV = {"OIDC_CLIENT_ID": "mailing", "OIDC_CLIENT_SECRET": "s", "OIDC_ADMIN_VALUE": "ops"}


def test_the_settings_refuse_a_sign_in_that_could_not_work() -> None:
    assert load_settings() == "''"
    assert "set OIDC_CLIENT_ID, OIDC_CLIENT_SECRET and OIDC_ADMIN_VALUE" in load_settings(
        OIDC_ISSUER=ISSUER, OIDC_CLIENT_ID="mailing", OIDC_CLIENT_SECRET="s"
    )
    assert "nobody could sign in" in load_settings(ADMIN_PASSWORD_LOGIN="false")
    assert load_settings(OIDC_ISSUER=ISSUER, ADMIN_PASSWORD_LOGIN="false", **OIDC_ENV) == repr(
        ISSUER
    )
    # Kept exactly as the provider writes it, trailing slash and all.
    auth0 = "https://example.eu.auth0.com/"
    assert load_settings(OIDC_ISSUER=auth0, **OIDC_ENV) == repr(auth0)


def test_the_provider_grants_each_role_by_its_value(settings: Any) -> None:
    from accounts.oidc import role_from_claims

    settings.OIDC_ADMIN_CLAIM = "groups"
    settings.OIDC_ADMIN_VALUE = "it"
    settings.OIDC_OPERATOR_VALUE = "marketing"
    settings.OIDC_VIEWER_VALUE = "sales"
    assert role_from_claims({"groups": ["sales"]}) == "viewer"
    assert role_from_claims({"groups": ["sales", "marketing"]}) == "operator"
    assert role_from_claims({"groups": ["marketing", "it"]}) == "admin"
    assert role_from_claims({"groups": ["hr"]}) is None
    settings.OIDC_VIEWER_VALUE = ""  # not configured: grants nothing
    assert role_from_claims({"groups": ["sales"]}) is None


@pytest.mark.django_db
def test_the_role_is_derived_again_at_every_sign_in(settings: Any) -> None:
    from accounts.oidc import OidcBackend
    from accounts.roles import role_of

    settings.OIDC_ADMIN_CLAIM = "groups"
    settings.OIDC_ADMIN_VALUE = "it"
    settings.OIDC_VIEWER_VALUE = "sales"
    backend = OidcBackend()
    user = backend.create_user({"sub": "s-1", "preferred_username": "ann", "groups": ["it"]})
    assert role_of(user) == "admin"
    user = backend.update_user(user, {"sub": "s-1", "groups": ["sales"]})
    user = get_user_model().objects.get(pk=user.pk)
    assert role_of(user) == "viewer"
