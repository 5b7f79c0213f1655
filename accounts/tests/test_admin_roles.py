"""Roles in the admin (SPEC 8.1): pages, actions and imports follow the API's rule."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client as Browser
from django.utils import timezone

from accounts.roles import set_role
from clients.models import Client
from clients.tests.factories import ClientFactory
from mailings.models import MailingStatus
from mailings.tests.factories import MailingFactory, MessageFactory

pytestmark = pytest.mark.django_db


def browser_as(role: str | None, *, staff: bool = True) -> Browser:
    user = get_user_model().objects.create_user(
        username=f"user-{role}", password="a-long-pass-123", is_staff=staff
    )
    set_role(user, role)
    if staff and role is None:
        user.is_staff = True  # staff, yet no role: Django alone would let it in
        user.save()
    browser = Browser()
    browser.force_login(user)
    return browser


def test_staff_without_a_role_gets_no_admin_page_and_imports_nothing() -> None:
    nobody = browser_as(None)
    assert nobody.get("/admin/").status_code == 302  # to the login page
    upload = io.BytesIO(b"phone\n79001112233\n")
    upload.name = "c.csv"
    answer = nobody.post("/admin/clients/client/import/", {"file": upload})
    assert answer.status_code in (302, 403)
    assert not Client.objects.exists()


def test_a_viewer_reads_with_masked_phones_and_cannot_start_a_mailing() -> None:
    viewer = browser_as("viewer")
    ClientFactory.create(phone="79001234567")
    page = viewer.get("/admin/clients/client/")
    assert page.status_code == 200
    assert b"7900***4567" in page.content and b"79001234567" not in page.content
    client = Client.objects.get()
    detail = viewer.get(f"/admin/clients/client/{client.pk}/change/")
    assert b"7900***4567" in detail.content and b"79001234567" not in detail.content
    message = MessageFactory.create(client=client)
    messages_page = viewer.get("/admin/mailings/message/")
    assert b"79001234567" not in messages_page.content
    assert message.phone == "79001234567"

    mailing = MailingFactory.create(start_at=timezone.now() + timedelta(hours=1))
    viewer.post(
        "/admin/mailings/mailing/",
        {"action": "start_now", "_selected_action": [mailing.pk]},
    )
    mailing.refresh_from_db()
    assert mailing.status == MailingStatus.SCHEDULED
    assert viewer.get("/admin/mailings/mailing/add/").status_code == 403
    upload = io.BytesIO(b"phone\n79001112233\n")
    upload.name = "c.csv"
    assert viewer.post("/admin/clients/client/import/", {"file": upload}).status_code == 403
    assert viewer.get(f"/admin/mailings/mailing/{mailing.pk}/export/").status_code == 403
    assert viewer.get("/admin/auth/user/").status_code == 403


def test_an_operator_writes_but_users_are_for_admins() -> None:
    operator = browser_as("operator")
    mailing = MailingFactory.create(start_at=timezone.now() + timedelta(hours=1))
    operator.post(
        "/admin/mailings/mailing/", {"action": "start_now", "_selected_action": [mailing.pk]}
    )
    mailing.refresh_from_db()
    assert mailing.start_at <= timezone.now()
    assert operator.get("/admin/auth/user/").status_code == 403
    admin = browser_as("admin")
    assert admin.get("/admin/auth/user/").status_code == 200


def test_a_role_given_in_the_admin_opens_the_admin(admin_client: Any) -> None:
    user = get_user_model().objects.create_user(username="ann", password="a-long-pass-123")
    browser = Browser()
    form = {"username": "ann", "password": "a-long-pass-123"}
    refused = browser.post("/admin/login/?next=/admin/", form)
    assert refused.status_code == 200  # the form again: no role, no admin
    set_role(user, "viewer")
    answer = browser.post("/admin/login/?next=/admin/", form)
    assert answer.status_code == 302 and answer["Location"] == "/admin/"
