"""An operator in a real browser (Debian's Chromium, driven by Playwright): sign in, import
clients, create a mailing, watch it finish against the emulator, read its statistics; and
sign in through the company's OpenID Connect provider (a real one, in its own process).
Screenshots of the main pages are saved under test-artifacts/screenshots/."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connections
from django.utils import timezone

from e2e.api import create_user
from e2e.oidc_provider import IdentityProvider, service_env, start_test_provider
from e2e.stack import Stack, wait_until
from mailings.models import Mailing, MailingStatus

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path("test-artifacts") / "screenshots"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]


@pytest.fixture(scope="module")
def provider() -> Iterator[IdentityProvider]:
    running = start_test_provider()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def stack_env(stack_env: dict[str, str], provider: IdentityProvider) -> dict[str, str]:
    """The stack signs in against the test provider, as it would against Keycloak."""
    return {**stack_env, **service_env(provider)}


@pytest.fixture
def page(live: Stack) -> Iterator[Any]:
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are
    # plain synchronous code around it.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        yield context.new_page()
        # The ORM calls made while Playwright's loop ran opened a connection of their own,
        # which pytest-django's teardown does not see: left open, the test database could
        # not be dropped at the end of the run ("being accessed by other users").
        connections.close_all()
        context.close()
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_an_operator_runs_a_mailing_from_the_browser(
    live: Stack, page: Any, tmp_path: Path
) -> None:
    create_user("operator", "operator-pass-1", admin=True)
    base = live.web_url

    # 1. Sign in.
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", "operator-pass-1")
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")

    # 2. Import clients from a CSV file, one row bad.
    csv = tmp_path / "clients.csv"
    rows = ["phone,operator_code,tag,timezone"]
    rows += [f"7901000{i:04d},,browser,Europe/Moscow" for i in range(40)]
    rows += ["89010000000,,browser,"]
    csv.write_text("\n".join(rows) + "\n")
    page.goto(f"{base}/admin/clients/client/import/")
    page.set_input_files("input[type=file]", str(csv))
    page.click("input[type=submit]")
    assert page.inner_text("#import-result") == "40 created, 0 updated, 1 rejected."
    assert "42" in page.inner_text("#import-rejected")
    shot(page, "client-import")

    # 3. Create a mailing that starts now.
    start = timezone.localtime(timezone.now())
    end = start + timedelta(hours=1)
    page.goto(f"{base}/admin/mailings/mailing/add/")
    page.fill("#id_text", "Hello from the browser")
    page.fill("#id_start_at_0", start.strftime("%Y-%m-%d"))
    page.fill("#id_start_at_1", start.strftime("%H:%M:%S"))
    page.fill("#id_end_at_0", end.strftime("%Y-%m-%d"))
    page.fill("#id_end_at_1", end.strftime("%H:%M:%S"))
    page.fill("#id_filter_tag", "browser")
    # The form counts segments as one types, and shows the preview's figures before saving.
    page.wait_for_function(
        "document.getElementById('mailing-preview').textContent.includes('Would reach 40 ')"
    )
    assert page.inner_text("#segment-counter") == "22 characters (GSM-7), 1 segment"
    page.fill("#id_text", "Ж" * 71)
    assert page.inner_text("#segment-counter") == "71 characters (UCS-2), 2 segments"
    page.wait_for_function(
        "document.getElementById('mailing-preview').textContent.includes('80 parts')"
    )
    shot(page, "mailing-form-preview")
    page.fill("#id_text", "Hello from the browser")
    page.click("input[name=_save]")
    page.wait_for_url(f"{base}/admin/mailings/mailing/")
    mailing = Mailing.objects.get(text="Hello from the browser")

    # 4. Watch it finish against the emulator; the list shows its progress.
    wait_until(
        lambda: Mailing.objects.filter(pk=mailing.pk, status=MailingStatus.FINISHED).exists(),
        timeout=30,
        what="the mailing to finish",
    )
    page.reload()
    assert "40 sent · 0 failed · 0 expired · 0 pending of 40" in page.inner_text("#result_list")
    shot(page, "mailing-list")

    # 5. Its page: counts by status, the deliveries chart, the sent messages.
    page.goto(f"{base}/admin/mailings/mailing/{mailing.pk}/change/")
    assert "sent: 40" in page.inner_text("body")
    assert page.locator("#deliveries-chart rect").count() >= 1
    shot(page, "mailing-page")
    page.click("text=sent: 40")
    assert "40 messages" in page.inner_text("#changelist")

    # 6. The dashboard.
    page.goto(f"{base}/admin/dashboard/")
    assert page.inner_text(".messages-sent") == "40"
    assert "Circuit: closed" in page.inner_text("#circuit")
    shot(page, "dashboard")
    assert live.gateway_stats()["delivered"] == 40


def test_an_operator_signs_in_with_the_company_identity_provider(
    live: Stack, page: Any, provider: IdentityProvider
) -> None:
    from accounts.models import OidcIdentity

    base = live.web_url

    # The admin sends a signed-out visitor to its login page, which offers the provider.
    page.goto(f"{base}/admin/mailings/mailing/")
    page.wait_for_url(f"{base}/admin/login/?next=/admin/mailings/mailing/")
    assert page.inner_text("#sso-sign-in") == "Sign in with Test IdP"
    shot(page, "login")

    # The provider's own login page, then back to the page first asked for.
    page.click("#sso-sign-in")
    page.wait_for_url(f"{provider.issuer.removesuffix('/o')}/accounts/login/**")
    page.fill("#idp-username", "ann")
    page.fill("#idp-password", "ann-idp-pass-1")
    page.click("#idp-submit")
    page.wait_for_url(f"{base}/admin/mailings/mailing/")
    assert "WELCOME, ANN" in page.inner_text("#user-tools").upper()

    identity = OidcIdentity.objects.select_related("user").get()
    assert identity.issuer == provider.issuer
    from accounts.roles import ADMIN, role_of

    assert identity.user.username == "ann" and role_of(identity.user) == ADMIN

    # An account the provider knows but whose groups do not grant the admin.
    page.context.clear_cookies()
    page.goto(f"{base}/admin/login/")
    page.click("#sso-sign-in")
    page.fill("#idp-username", "bob")
    page.fill("#idp-password", "bob-idp-pass-1")
    page.click("#idp-submit")
    page.wait_for_url(f"{base}/admin/login/?sso=failed")
    assert "not allowed into this admin" in page.inner_text("#sso-error")
    assert OidcIdentity.objects.count() == 1
