"""The operators' dashboard in the admin: mailings and messages by status, deliveries in the
last hour, and the gateway's circuit."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from delivery.breaker import gateway_state
from mailings.models import Message, MessageStatus
from mailings.selectors import statistics_overview


@staff_member_required
def dashboard(request: HttpRequest) -> HttpResponse:
    overview = statistics_overview()
    hour_ago = timezone.now() - timedelta(hours=1)
    sent_last_hour = Message.objects.filter(
        status=MessageStatus.SENT, sent_at__gte=hour_ago
    ).count()
    state = gateway_state()
    context = {
        **admin.site.each_context(request),
        "title": "Dashboard",
        "overview": overview,
        "sent_last_hour": sent_last_hour,
        "rate_per_minute": round(sent_last_hour / 60, 1),
        "gateway": state,
    }
    return render(request, "admin/dashboard.html", context)
