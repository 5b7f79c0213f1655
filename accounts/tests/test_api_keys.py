"""API keys (SPEC 8.1): made by admins, shown once, stored hashed, acting with their role."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiKey, AuditEntry

pytestmark = pytest.mark.django_db


def with_key(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def test_an_admin_makes_a_key_shown_once_and_stored_hashed(admin_api: APIClient) -> None:
    answer = admin_api.post("/api/keys/", {"name": "crm", "role": "operator"}, format="json")
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert set(body) == {"id", "name", "role", "prefix", "created_at", "last_used_at", "key"}
    assert body["key"].startswith(body["prefix"] + ".")
    stored = ApiKey.objects.get()
    assert body["key"] not in (stored.hashed_key, stored.id)  # only a hash is kept
    listed = admin_api.get("/api/keys/").json()["results"]
    assert [k["name"] for k in listed] == ["crm"]
    assert "key" not in listed[0]
    assert AuditEntry.objects.filter(action="key.create", actor="boss").exists()


def test_a_key_acts_with_its_role_and_is_named_in_the_audit_log(admin_api: APIClient) -> None:
    viewer = admin_api.post("/api/keys/", {"name": "bi", "role": "viewer"}, format="json").json()
    writer = admin_api.post("/api/keys/", {"name": "crm", "role": "operator"}, format="json").json()
    assert with_key(viewer["key"]).get("/api/clients/").status_code == 200
    refused = with_key(viewer["key"]).post("/api/clients/", {"phone": "79001234567"}, format="json")
    assert refused.status_code == 403
    made = with_key(writer["key"]).post("/api/clients/", {"phone": "79001234567"}, format="json")
    assert made.status_code == 201
    assert AuditEntry.objects.filter(action="client.create", actor="key:crm").exists()
    assert with_key(writer["key"]).get("/api/keys/").status_code == 403  # admin only
    assert ApiKey.objects.get(name="crm").last_used_at is not None


def test_a_revoked_or_unknown_key_is_a_401(admin_api: APIClient) -> None:
    made = admin_api.post("/api/keys/", {"name": "old", "role": "operator"}, format="json").json()
    assert with_key(made["key"]).get("/api/clients/").status_code == 200
    assert admin_api.delete(f"/api/keys/{made['id']}/").status_code == 204
    assert with_key(made["key"]).get("/api/clients/").status_code == 401
    assert with_key("nope.nope").get("/api/clients/").status_code == 401
    assert admin_api.delete(f"/api/keys/{made['id']}/").status_code == 404
    assert AuditEntry.objects.filter(action="key.delete").count() == 1


def test_only_admins_manage_keys(api: APIClient, viewer_api: APIClient) -> None:
    assert api.post("/api/keys/", {"name": "x", "role": "admin"}, format="json").status_code == 403
    assert viewer_api.get("/api/keys/").status_code == 403


def test_bad_key_requests_are_400(admin_api: APIClient) -> None:
    assert (
        admin_api.post("/api/keys/", {"name": "x", "role": "root"}, format="json").status_code
        == 400
    )
    assert (
        admin_api.post(
            "/api/keys/", {"name": "n" * 51, "role": "viewer"}, format="json"
        ).status_code
        == 400
    )
