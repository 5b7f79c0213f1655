"""The whole authorization-code flow against a real OpenID Connect provider.

The provider (django-oauth-toolkit, e2e/oidc_provider/) runs in a process of its own on a
local port; the service runs in pytest-django's live server. A ``requests`` session plays
the browser: the admin's login page, the provider's login form, the redirect back with a
code, the service's token request, JWKS and userinfo calls — all over real sockets.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin

import pytest
import requests
from django.contrib.auth import get_user_model

from accounts.discovery import forget_provider_metadata
from accounts.models import OidcIdentity
from e2e.oidc_provider import IdentityProvider, service_env, start_test_provider

pytestmark = pytest.mark.django_db(transaction=True)

NEXT = "/admin/clients/client/"


@pytest.fixture(scope="module")
def provider() -> Iterator[IdentityProvider]:
    running = start_test_provider()
    yield running
    running.stop()


# Where the settings module puts the environment's OIDC variables, when not under their name.
SETTING_OF = {
    "OIDC_CLIENT_ID": "OIDC_RP_CLIENT_ID",
    "OIDC_CLIENT_SECRET": "OIDC_RP_CLIENT_SECRET",
    "OIDC_SCOPES": "OIDC_RP_SCOPES",
}


@pytest.fixture
def oidc(settings: Any, provider: IdentityProvider) -> Iterator[IdentityProvider]:
    """The live server configured as the browser test's stack is, by service_env()."""
    for name, value in service_env(provider).items():
        setattr(settings, SETTING_OF.get(name, name), value)
    settings.OIDC_ENABLED = True
    forget_provider_metadata()
    yield provider
    forget_provider_metadata()


def go_to_provider(base: str, browser: requests.Session) -> requests.Response:
    """Open the admin's login page and follow its "Sign in with ..." button."""
    page = browser.get(f"{base}/admin/login/?next={NEXT}", timeout=10)
    assert page.status_code == 200
    button = re.search(r'id="sso-sign-in"[^>]*href="([^"]+)"', page.text)
    assert button, "the login page has no sign-in button for the provider"
    assert "Sign in with Test IdP" in page.text
    return browser.get(urljoin(page.url, button.group(1).replace("&amp;", "&")), timeout=10)


def sign_in(
    base: str, username: str, password: str, browser: requests.Session | None = None
) -> tuple[requests.Session, requests.Response]:
    browser = browser or requests.Session()
    login_form = go_to_provider(base, browser)
    assert "Test identity provider" in login_form.text, login_form.text[:500]
    answer = browser.post(
        login_form.url,
        data={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": browser.cookies["idp_csrftoken"],
        },
        timeout=30,
    )
    return browser, answer


def signed_in(base: str, browser: requests.Session) -> bool:
    answer = browser.get(f"{base}/admin/", timeout=10, allow_redirects=False)
    return answer.status_code == 200


def test_an_operator_in_the_admin_group_signs_in_and_lands_where_they_were_going(
    live_server: Any, oidc: IdentityProvider
) -> None:
    base = live_server.url
    browser, answer = sign_in(base, "ann", "ann-idp-pass-1")

    # The flow went provider -> callback -> the page asked for, and the session is real.
    hops = [r.url for r in answer.history] + [answer.url]
    assert any(hop.startswith(f"{base}/oidc/callback/?code=") for hop in hops), hops
    assert answer.url == f"{base}{NEXT}"
    assert answer.status_code == 200
    assert "Welcome," in answer.text and "<strong>Ann</strong>" in answer.text
    assert signed_in(base, browser)

    user = get_user_model().objects.get(oidc_identity__issuer=oidc.issuer)
    assert (user.username, user.email, user.first_name, user.last_name) == (
        "ann",
        "ann@example.com",
        "Ann",
        "Operator",
    )
    from accounts.roles import ADMIN, role_of

    assert user.is_staff and user.is_active and role_of(user) == ADMIN
    assert not user.is_superuser  # a role from the provider, renewed at each sign-in
    assert not user.has_usable_password()
    identity = user.oidc_identity
    first_sign_in = identity.last_sign_in_at

    # A second sign-in, from another browser, is the same user.
    other_browser, answer = sign_in(base, "ann", "ann-idp-pass-1")
    assert answer.url == f"{base}{NEXT}"
    assert get_user_model().objects.count() == 1
    identity.refresh_from_db()
    assert identity.last_sign_in_at > first_sign_in
    assert signed_in(base, other_browser)


def test_an_account_without_the_admin_group_is_turned_away_and_nothing_is_created(
    live_server: Any, oidc: IdentityProvider
) -> None:
    base = live_server.url
    browser, answer = sign_in(base, "bob", "bob-idp-pass-1")

    assert answer.url == f"{base}/admin/login/?sso=failed"
    assert "not allowed into this admin" in answer.text
    assert not signed_in(base, browser)
    assert not get_user_model().objects.exists()
    assert not OidcIdentity.objects.exists()


def test_the_admin_value_decides_who_gets_in(
    live_server: Any, oidc: IdentityProvider, settings: Any
) -> None:
    settings.OIDC_ADMIN_VALUE = "sales"  # now Bob's group grants the admin, Ann's does not
    base = live_server.url

    _, answer = sign_in(base, "ann", "ann-idp-pass-1")
    assert answer.url == f"{base}/admin/login/?sso=failed"
    _, answer = sign_in(base, "bob", "bob-idp-pass-1")
    assert answer.url == f"{base}{NEXT}"
    assert list(get_user_model().objects.values_list("username", flat=True)) == ["bob"]


def test_a_wrong_password_at_the_provider_stays_at_the_provider(
    live_server: Any, oidc: IdentityProvider
) -> None:
    browser, answer = sign_in(live_server.url, "ann", "not-her-password")

    assert answer.url.startswith(oidc.issuer.removesuffix("/o"))
    assert "Wrong user name or password" in answer.text
    assert not signed_in(live_server.url, browser)
    assert not get_user_model().objects.exists()


def test_a_replayed_callback_does_not_sign_anyone_in(
    live_server: Any, oidc: IdentityProvider
) -> None:
    base = live_server.url
    _, answer = sign_in(base, "ann", "ann-idp-pass-1")
    callback = next(r.url for r in answer.history if "/oidc/callback/" in r.url)

    # Someone else replays the code and state: their session never started this sign-in.
    thief = requests.Session()
    replay = thief.get(callback, timeout=10)
    assert replay.url == f"{base}/admin/login/?sso=failed"
    assert not signed_in(base, thief)


def test_a_wrong_client_secret_ends_on_the_login_page_not_in_a_server_error(
    live_server: Any, oidc: IdentityProvider, settings: Any
) -> None:
    settings.OIDC_RP_CLIENT_SECRET = "not-the-secret"
    browser, answer = sign_in(live_server.url, "ann", "ann-idp-pass-1")

    assert answer.url == f"{live_server.url}/admin/login/?sso=failed"
    assert answer.status_code == 200
    assert not signed_in(live_server.url, browser)
    assert not get_user_model().objects.exists()


def test_a_provider_that_cannot_be_reached_is_reported_on_the_login_page(
    live_server: Any, oidc: IdentityProvider, settings: Any
) -> None:
    settings.OIDC_ISSUER = "http://127.0.0.1:9/o"  # nothing listens on the discard port
    forget_provider_metadata()

    answer = go_to_provider(live_server.url, requests.Session())

    assert answer.url == f"{live_server.url}/admin/login/?sso=unavailable"
    assert "cannot be reached right now" in answer.text


def test_with_password_sign_in_off_the_provider_is_the_only_way_in(
    live_server: Any, oidc: IdentityProvider, settings: Any
) -> None:
    get_user_model().objects.create_superuser("local-admin", password="local-pass-1")
    base = live_server.url
    browser = requests.Session()
    browser.get(f"{base}/admin/login/", timeout=10)  # a CSRF cookie, as a form left open has
    settings.ADMIN_PASSWORD_LOGIN = False

    page = browser.get(f"{base}/admin/login/", timeout=10)
    assert 'id="sso-sign-in"' in page.text
    assert 'id="login-form"' not in page.text
    refused = browser.post(
        f"{base}/admin/login/",
        data={
            "username": "local-admin",
            "password": "local-pass-1",
            "csrfmiddlewaretoken": browser.cookies["csrftoken"],
        },
        timeout=10,
    )
    assert "Password sign-in is switched off here: sign in with Test IdP." in refused.text
    assert not signed_in(base, browser)

    _, answer = sign_in(base, "ann", "ann-idp-pass-1", browser)
    assert answer.url == f"{base}{NEXT}"
    assert signed_in(base, browser)
