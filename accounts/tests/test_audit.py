"""The audit log (SPEC 8.1): every write through the API or the admin, append-only, read by
admins at GET /api/audit/."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import AuditEntry
from mailings.tests.factories import MailingFactory

pytestmark = pytest.mark.django_db


def actions() -> list[tuple[str, str, str]]:
    return list(AuditEntry.objects.order_by("id").values_list("actor", "action", "object_id"))


def test_every_api_write_is_recorded(api: APIClient) -> None:
    client = api.post("/api/clients/", {"phone": "79001234567"}, format="json").json()
    api.patch(f"/api/clients/{client['id']}/", {"tag": "vip"}, format="json")
    upload = io.BytesIO(b"phone\n79001234568\n")
    upload.name = "c.csv"
    api.post("/api/clients/import/", {"file": upload}, format="multipart")
    now = timezone.now()
    mailing = api.post(
        "/api/mailings/",
        {
            "text": "x",
            "start_at": (now + timedelta(hours=1)).isoformat(),
            "end_at": (now + timedelta(hours=2)).isoformat(),
        },
        format="json",
    ).json()
    for verb in ("pause_mailing", "resume_mailing", "start_mailing", "cancel_mailing"):
        api.post(f"/api/mailings/{mailing['id']}/{verb}/")
    api.post(
        f"/api/mailings/{mailing['id']}/test_send/", {"phones": ["79001112233"]}, format="json"
    )
    b"".join(api.get(f"/api/mailings/{mailing['id']}/export/").streaming_content)  # type: ignore[attr-defined]
    api.post("/api/stoplist/", {"phone": "79005556677"}, format="json")
    api.delete("/api/stoplist/79005556677/")
    api.delete(f"/api/clients/{client['id']}/")
    api.delete(f"/api/mailings/{mailing['id']}/")

    mid, cid = str(mailing["id"]), str(client["id"])
    assert actions() == [
        ("operator", "client.create", cid),
        ("operator", "client.update", cid),
        ("operator", "client.import", ""),
        ("operator", "mailing.create", mid),
        ("operator", "mailing.pause", mid),
        ("operator", "mailing.resume", mid),
        ("operator", "mailing.start", mid),
        ("operator", "mailing.cancel", mid),
        ("operator", "mailing.test_send", mid),
        ("operator", "mailing.export", mid),
        ("operator", "stoplist.create", "79005556677"),
        ("operator", "stoplist.delete", "79005556677"),
        ("operator", "client.delete", cid),
        ("operator", "mailing.delete", mid),
    ]
    assert AuditEntry.objects.get(action="client.update").details == {"fields": ["tag"]}


def test_reads_and_refusals_are_not_recorded(api: APIClient, viewer_api: APIClient) -> None:
    api.get("/api/clients/")
    viewer_api.post("/api/clients/", {"phone": "79001234567"}, format="json")
    api.post("/api/clients/", {"phone": "bad"}, format="json")
    assert actions() == []


def test_admin_writes_and_role_changes_are_recorded(
    admin_client: Any, django_user_model: Any
) -> None:
    from accounts.roles import set_role

    mailing = MailingFactory.create(start_at=timezone.now() + timedelta(hours=1))
    admin_client.post(
        "/admin/mailings/mailing/", {"action": "cancel", "_selected_action": [mailing.pk]}
    )
    ann = django_user_model.objects.create_user("ann", password="a-long-pass-123")
    set_role(ann, "operator", actor="manage.py grant_role")
    got = actions()
    assert ("admin", "mailing.cancel", str(mailing.pk)) in got
    assert ("manage.py grant_role", "user.update", str(ann.pk)) in got
    entry = AuditEntry.objects.get(action="user.update")
    assert entry.details == {"role": {"from": None, "to": "operator"}}


def test_the_log_is_for_admins_and_filtered(
    api: APIClient, admin_api: APIClient, viewer_api: APIClient
) -> None:
    api.post("/api/clients/", {"phone": "79001234567"}, format="json")
    api.post("/api/stoplist/", {"phone": "79001234568"}, format="json")
    assert api.get("/api/audit/").status_code == 403
    assert viewer_api.get("/api/audit/").status_code == 403
    body = admin_api.get("/api/audit/").json()
    assert [row["action"] for row in body["results"]] == ["stoplist.create", "client.create"]
    only = admin_api.get("/api/audit/", {"object_type": "stoplist"}).json()
    assert [row["object_id"] for row in only["results"]] == ["79001234568"]
    assert admin_api.get("/api/audit/", {"actor": "nobody"}).json()["count"] == 0
    assert admin_api.post("/api/audit/", {}, format="json").status_code == 405


def test_nobody_changes_or_deletes_an_entry(api: APIClient) -> None:
    api.post("/api/clients/", {"phone": "79001234567"}, format="json")
    entry = AuditEntry.objects.get()
    entry.actor = "someone else"
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    if connection.vendor == "postgresql":  # and the database itself refuses
        with pytest.raises(DatabaseError), transaction.atomic():
            AuditEntry.objects.filter(pk=entry.pk).update(actor="x")
        with pytest.raises(DatabaseError), transaction.atomic():
            AuditEntry.objects.filter(pk=entry.pk).delete()
    assert AuditEntry.objects.get().actor == "operator"


WRITES_WITH_AN_ENTRY = [
    # (module whose audit_record fails, method, path, body, what must be as it was)
    ("mailings.views", "post", "/api/mailings/", "new mailing", "no new mailing"),
    ("mailings.views", "patch", "/api/mailings/{mailing}/", {"text": "changed"}, "text"),
    ("mailings.views", "post", "/api/mailings/{mailing}/cancel_mailing/", None, "status"),
    ("mailings.views", "delete", "/api/mailings/{mailing}/", None, "mailing exists"),
    ("stoplist.views", "post", "/api/stoplist/", {"phone": "79005556677"}, "not listed"),
    ("stoplist.views", "delete", "/api/stoplist/79001110000/", None, "still listed"),
    ("accounts.api", "post", "/api/keys/", {"name": "ci", "role": "viewer"}, "no new key"),
    ("clients.views", "post", "/api/clients/import/", [{"phone": "79002223344"}], "no client"),
    ("stoplist.views", "post", "/api/stoplist/import/", "stop-list rows", "not listed"),
    ("accounts.api", "delete", "/api/keys/{key}/", None, "key not revoked"),
]


@pytest.mark.parametrize(("module", "method", "path", "body", "kept"), WRITES_WITH_AN_ENTRY)
def test_no_change_without_its_entry(
    admin_api: APIClient,
    monkeypatch: pytest.MonkeyPatch,
    module: str,
    method: str,
    path: str,
    body: Any,
    kept: str,
) -> None:
    """A write and its audit entry commit together: when the entry cannot be written, the
    change is rolled back with it (the security team's log has no gaps)."""
    from accounts.models import ApiKey
    from clients.models import Client
    from mailings.models import Mailing, MailingStatus
    from stoplist.models import StopListEntry

    now = timezone.now()
    mailing = MailingFactory.create(
        text="as it was", start_at=now + timedelta(hours=1), end_at=now + timedelta(hours=2)
    )
    StopListEntry.objects.create(phone="79001110000")
    key, _ = ApiKey.objects.create_key(name="kept", role="viewer")
    if body == "stop-list rows":
        body = {"entries": [{"phone": "79005556677"}]}
    if body == "new mailing":
        start, end = now + timedelta(hours=1), now + timedelta(hours=2)
        body = {"text": "x", "start_at": start.isoformat(), "end_at": end.isoformat()}

    def fail(**_: Any) -> None:
        raise DatabaseError("the audit log is unavailable")

    monkeypatch.setattr(f"{module}.audit_record", fail)
    with pytest.raises(DatabaseError):
        getattr(admin_api, method)(path.format(mailing=mailing.pk, key=key.pk), body, format="json")

    mailing_now = Mailing.objects.filter(pk=mailing.pk).first()
    assert {
        "no new mailing": Mailing.objects.count() == 1,
        "text": mailing_now is not None and mailing_now.text == "as it was",
        "status": mailing_now is not None and mailing_now.status == MailingStatus.SCHEDULED,
        "mailing exists": mailing_now is not None,
        "not listed": not StopListEntry.objects.filter(phone="79005556677").exists(),
        "still listed": StopListEntry.objects.filter(phone="79001110000").exists(),
        "no new key": ApiKey.objects.count() == 1,
        "no client": not Client.objects.exists(),
        "key not revoked": not ApiKey.objects.get(pk=key.pk).revoked,
    }[kept]
    assert not AuditEntry.objects.exists()
