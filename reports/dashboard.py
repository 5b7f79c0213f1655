"""The operators' dashboard in the admin: mailings and messages by status, deliveries in the
last hour, and the gateway's circuit."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from delivery.breaker import gateway_state, pause_reason
from mailings.selectors import messages_sent_since, paused_mailings, statistics_overview


@staff_member_required
def dashboard(request: HttpRequest) -> HttpResponse:
    sent_last_hour = messages_sent_since(since=timezone.now() - timedelta(hours=1))
    context = {
        **admin.site.each_context(request),
        "title": "Dashboard",
        "overview": statistics_overview(),
        "sent_last_hour": sent_last_hour,
        "rate_per_minute": round(sent_last_hour / 60, 1),
        "gateway": gateway_state(),
        "pause_reason": pause_reason(),
        "paused_mailings": paused_mailings(),
    }
    return render(request, "admin/dashboard.html", context)
