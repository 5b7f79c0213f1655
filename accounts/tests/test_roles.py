"""Roles on every API route (SPEC 8.1). The walk below visits every URL pattern of the
project, so a route added tomorrow is checked without anyone listing it here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from clients.tests.factories import ClientFactory
from mailings.tests.factories import MailingFactory, MessageFactory
from stoplist.models import StopListEntry

pytestmark = pytest.mark.django_db

SAFE = {"get", "head", "options"}
# The only /api/ routes an account without a role may use: getting and dropping tokens.
ROLELESS = re.compile(r"^/api/auth/")


def walk(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry.callback


def concrete(pattern: str, ids: dict[str, str]) -> str:
    """A pattern as a path: ids of existing objects, the optional slash present."""
    path = pattern.replace("^", "").replace("$", "")
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: ids[m.group(1)], path)
    path = path.replace("/?", "/").replace("\\.", ".")
    return "/" + path


def methods_of(callback: Any) -> set[str]:
    actions = getattr(callback, "actions", None)
    if actions:
        return set(actions)
    view = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view is None:
        return {"get"}
    return {m for m in view.http_method_names if hasattr(view, m)} - {"options"}


def api_routes() -> list[tuple[str, str]]:
    mailing = MailingFactory.create()
    MessageFactory.create(mailing=mailing)
    client = ClientFactory.create()
    StopListEntry.objects.create(phone="79000000009")
    from accounts.models import ApiKey

    key, _ = ApiKey.objects.create_key(name="walk", role="viewer")
    ids = {"pk": str(mailing.pk), "phone": "79000000009", "id": key.pk, "format": "json"}
    assert client.pk
    routes = set()
    for pattern, callback in walk(get_resolver().url_patterns):
        if not pattern.lstrip("^").startswith("api/"):
            continue
        path = concrete(pattern, ids)
        for method in methods_of(callback):
            routes.add((method, path))
    return sorted(routes)


def call(api: APIClient, method: str, path: str) -> Any:
    return (
        getattr(api, method)(path, {}, format="json")
        if method not in SAFE
        else getattr(api, method)(path)
    )


def test_the_walk_finds_the_routes_of_every_app() -> None:
    routes = api_routes()
    paths = {path for _, path in routes}
    for expected in ("/api/clients/", "/api/mailings/", "/api/stoplist/", "/api/auth/token/"):
        assert expected in paths
    assert ("post", "/api/stoplist/import/") in routes
    assert len(routes) > 30


def test_an_account_without_a_role_is_refused_everywhere_but_the_token_routes(
    roleless_api: APIClient,
) -> None:
    for method, path in api_routes():
        answer = call(roleless_api, method, path)
        if ROLELESS.match(path):
            assert answer.status_code != 403, (method, path)
        else:
            assert answer.status_code == 403, (method, path, answer.status_code)


def test_a_viewer_reads_but_never_writes(viewer_api: APIClient) -> None:
    for method, path in api_routes():
        if ROLELESS.match(path):
            continue
        answer = call(viewer_api, method, path)
        admin_only = path.startswith("/api/audit/") or path.startswith("/api/keys/")
        if method in SAFE and not path.endswith("/export/") and not admin_only:
            assert answer.status_code != 403, (method, path)
        else:
            assert answer.status_code == 403, (method, path, answer.status_code)


def test_a_viewer_sees_phones_masked(viewer_api: APIClient, api: APIClient) -> None:
    client = ClientFactory.create(phone="79001234567")
    message = MessageFactory.create(client=client)
    StopListEntry.objects.create(phone="79001234568")
    masked = {
        f"/api/clients/{client.pk}/": lambda body: body["phone"],
        "/api/clients/": lambda body: body["results"][0]["phone"],
        f"/api/mailings/{message.mailing_id}/message_statistics/": (
            lambda body: body["results"][0]["phone"]
        ),
        "/api/stoplist/": lambda body: body["results"][0]["phone"],
    }
    for path, phone_in in masked.items():
        seen = phone_in(viewer_api.get(path).json())
        assert re.fullmatch(r"7\d{3}\*\*\*\d{4}", seen), (path, seen)
        assert re.fullmatch(r"7\d{10}", phone_in(api.get(path).json())), path


def test_a_superuser_counts_as_admin(django_user_model: Any) -> None:
    from accounts.roles import ADMIN, role_of

    boss = django_user_model.objects.create_superuser("root", password="x-pass-123456")
    assert role_of(boss) == ADMIN


def test_the_api_reads_the_role_with_the_user(
    django_user_model: Any, django_assert_num_queries: Any
) -> None:
    """One query authenticates a bearer token and finds the highest role (SPEC 8.1): two
    groups, the higher one counts; no group, no role; a change shows at the next request."""
    from django.contrib.auth.models import Group
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.authentication import JWTAuthentication
    from accounts.roles import ADMIN, OPERATOR, VIEWER, role_of, set_role

    user = django_user_model.objects.create_user("two-roles", password="x-pass-123456")
    set_role(user, VIEWER)
    user.groups.add(Group.objects.get_or_create(name=OPERATOR)[0])
    auth = JWTAuthentication()
    token = auth.get_validated_token(str(AccessToken.for_user(user)).encode())

    with django_assert_num_queries(1):
        assert role_of(auth.get_user(token)) == OPERATOR
    set_role(user, None)
    with django_assert_num_queries(1):
        assert role_of(auth.get_user(token)) is None
    set_role(user, ADMIN)
    with django_assert_num_queries(1):
        assert role_of(auth.get_user(token)) == ADMIN


def test_a_token_of_a_deleted_or_inactive_user_is_refused(django_user_model: Any) -> None:
    """The user is looked up through a statement compiled once (``accounts.authentication``):
    each request still reads the user as they are now."""
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.roles import OPERATOR, set_role

    user = django_user_model.objects.create_user("short-lived", password="x-pass-123456")
    set_role(user, OPERATOR)
    other = django_user_model.objects.create_user("other", password="x-pass-123456")
    set_role(other, OPERATOR)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    assert api.get("/api/clients/").status_code == 200

    user.is_active = False
    user.save()
    refused = api.get("/api/clients/")
    assert refused.status_code == 401
    assert refused.json()["code"] == "user_inactive"

    user.delete()
    refused = api.get("/api/clients/")
    assert refused.status_code == 401
    assert refused.json()["code"] == "user_not_found"

    # Another user's token still finds that user, not the first one's row.
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(other)}")
    assert api.get("/api/clients/").status_code == 200
