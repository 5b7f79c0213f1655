"""The operators' side of mailings in Django's admin: the same validation and the same service
functions as the API, counts from the counters, actions start / cancel / retry failed."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from accounts.admin_roles import RoleAdmin
from accounts.audit import audit_record
from accounts.roles import OPERATOR, has_role
from core.exceptions import Conflict, InvalidInput
from mailings import selectors, services
from mailings.export import export_response
from mailings.forms import MailingForm, api_body
from mailings.models import Mailing, Message, MessageStatus
from mailings.preview import preview_of
from mailings.serializers import MailingPreviewRequestSerializer

PROGRESS_COLOURS = {
    MessageStatus.SENT: "#2e7d32",
    MessageStatus.FAILED: "#c62828",
    MessageStatus.EXPIRED: "#9e9e9e",
    MessageStatus.CANCELLED: "#6d4c41",
    MessageStatus.SENDING: "#1565c0",
    MessageStatus.PENDING: "#90caf9",
    MessageStatus.SUPPRESSED: "#fbc02d",
}


def counts_bar(counts: dict[str, Any]) -> str:
    total = counts["total"]
    if not total:
        return "—"
    segments = format_html_join(
        "",
        '<span title="{} {}" '
        'style="display:inline-block;height:10px;width:{}%;background:{}"></span>',
        (
            (n, status, f"{100 * n / total:.2f}", PROGRESS_COLOURS[status])
            for status, n in counts["by_status"].items()
            if n
        ),
    )
    return format_html(
        '<div style="width:160px;background:#eee;display:flex">{}</div>'
        "<small>{} sent · {} failed · {} expired · {} pending of {}</small>",
        segments,
        counts["by_status"]["sent"],
        counts["by_status"]["failed"],
        counts["by_status"]["expired"],
        counts["by_status"]["pending"] + counts["by_status"]["sending"],
        total,
    )


@admin.register(Mailing)
class MailingAdmin(RoleAdmin):
    audit_type = "mailing"
    form = MailingForm
    list_display = [
        "id",
        "short_text",
        "status",
        "kind",
        "priority",
        "start_at",
        "end_at",
        "progress",
    ]
    list_filter = ["status", "kind"]
    search_fields = ["text"]
    readonly_fields = [
        "status",
        "paused_reason",
        "created_at",
        "started_at",
        "finished_at",
        "counts",
        "deliveries_chart",
    ]
    actions = ["start_now", "pause", "resume", "cancel", "retry_failed"]
    change_form_template = "admin/mailings/mailing/change_form.html"

    def get_urls(self) -> list[URLPattern]:
        extra = [
            path(
                "preview/",
                self.admin_site.admin_view(self.preview_view),
                name="mailings_mailing_preview",
            ),
            path(
                "<int:mailing_id>/export/",
                self.admin_site.admin_view(self.export_view),
                name="mailings_mailing_export",
            ),
        ]
        return extra + super().get_urls()

    def preview_view(self, request: HttpRequest) -> JsonResponse:
        """The form's current fields, previewed as ``POST /api/mailings/preview/`` would."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return JsonResponse({"errors": {"method": ["POST the form's fields."]}}, status=405)
        form = MailingForm(request.POST)
        form.is_valid()
        data = form.cleaned_data if hasattr(form, "cleaned_data") else {}
        body = api_body(data)
        body.pop("start_at"), body.pop("end_at")
        serializer = MailingPreviewRequestSerializer(data=body)
        if not serializer.is_valid():
            return JsonResponse({"errors": serializer.errors})
        fields = serializer.validated_data
        result = preview_of(fields)
        return JsonResponse(result.as_dict())

    def export_view(self, request: HttpRequest, mailing_id: int) -> StreamingHttpResponse:
        if not has_role(request.user, OPERATOR):  # exports carry full phones
            raise PermissionDenied
        mailing = get_object_or_404(Mailing, pk=mailing_id)
        audit_record(
            actor=request.user,
            action="mailing.export",
            object_id=mailing.pk,
            details={"via": "admin"},
        )
        return export_response(mailing_id=mailing.pk)

    @admin.display(description="text")
    def short_text(self, mailing: Mailing) -> str:
        return mailing.text if len(mailing.text) <= 50 else mailing.text[:47] + "..."

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        """Fetch the message counts of the whole page at once for ``progress``."""
        changelist = super().get_changelist_instance(request)
        page = list(changelist.result_list)
        counts = selectors.message_counts(mailing_ids=[m.pk for m in page])
        for mailing in page:
            mailing.page_counts = counts[mailing.pk]
        changelist.result_list = page
        return changelist

    @admin.display(description="progress (sent / failed / expired / pending)")
    def progress(self, mailing: Mailing) -> str:
        counts = getattr(mailing, "page_counts", None)
        if counts is None:
            counts = selectors.message_counts(mailing_ids=[mailing.pk])[mailing.pk]
        return counts_bar(counts)

    @admin.display(description="messages by status")
    def counts(self, mailing: Mailing) -> str:
        if mailing.pk is None:
            return "—"
        counts = selectors.message_counts(mailing_ids=[mailing.pk])[mailing.pk]
        url = reverse("admin:mailings_message_changelist")
        links = format_html_join(
            " · ",
            '<a href="{}?mailing__id__exact={}&status__exact={}">{}: {}</a>',
            ((url, mailing.pk, status, status, n) for status, n in counts["by_status"].items()),
        )
        return format_html("{}<br>{}", counts_bar(counts), links)

    @admin.display(description="deliveries over time")
    def deliveries_chart(self, mailing: Mailing) -> str:
        """An inline SVG bar chart: no JavaScript, nothing loaded from anywhere."""
        if mailing.pk is None:
            return "—"
        points = selectors.deliveries_over_time(mailing=mailing)
        if not points:
            return "No deliveries yet."
        width, height, gap = 600, 120, 2
        bar = width / len(points)
        peak = max(n for _, n in points)
        bars = format_html_join(
            "",
            '<rect x="{}" y="{}" width="{}" height="{}" fill="#2e7d32">'
            "<title>{}: {} sent</title></rect>",
            (
                (
                    f"{i * bar:.1f}",
                    f"{height - height * n / peak:.1f}",
                    f"{max(bar - gap, 1):.1f}",
                    f"{height * n / peak:.1f}",
                    timezone.localtime(at).strftime("%Y-%m-%d %H:%M:%S"),
                    n,
                )
                for i, (at, n) in enumerate(points)
            ),
        )
        first, last = points[0][0], points[-1][0]
        return format_html(
            '<svg id="deliveries-chart" width="{}" height="{}" role="img" '
            'aria-label="messages sent over time">{}</svg><br><small>{} … {}, peak {} a bucket'
            "</small>",
            width,
            height,
            bars,
            timezone.localtime(first).strftime("%Y-%m-%d %H:%M:%S"),
            timezone.localtime(last).strftime("%Y-%m-%d %H:%M:%S"),
            peak,
        )

    def save_model(self, request: HttpRequest, obj: Mailing, form: Any, change: bool) -> None:
        if change:
            current = Mailing.objects.get(pk=obj.pk)
            saved = services.mailing_update(mailing=current, changes=form.validated)
        else:
            saved = services.mailing_create(**form.validated)
        obj.pk = saved.pk

    def _act(
        self, request: HttpRequest, queryset: QuerySet[Mailing], act: Any, verb: str, action: str
    ) -> None:
        for mailing in queryset:
            try:
                act(mailing=mailing)
            except (Conflict, InvalidInput) as exc:
                self.message_user(request, f"Mailing {mailing.pk}: {exc}", messages.ERROR)
            else:
                audit_record(
                    actor=request.user,
                    action=f"mailing.{action}",
                    object_id=mailing.pk,
                    details={"via": "admin"},
                )
                self.message_user(request, f"Mailing {mailing.pk}: {verb}.", messages.SUCCESS)

    @admin.action(description="Start now", permissions=["change"])
    def start_now(self, request: HttpRequest, queryset: QuerySet[Mailing]) -> None:
        self._act(request, queryset, services.mailing_start_now, "starting", "start")

    @admin.action(description="Pause", permissions=["change"])
    def pause(self, request: HttpRequest, queryset: QuerySet[Mailing]) -> None:
        self._act(request, queryset, services.mailing_pause, "paused", "pause")

    @admin.action(description="Resume", permissions=["change"])
    def resume(self, request: HttpRequest, queryset: QuerySet[Mailing]) -> None:
        self._act(request, queryset, services.mailing_resume, "resumed", "resume")

    @admin.action(description="Cancel", permissions=["change"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Mailing]) -> None:
        self._act(request, queryset, services.mailing_cancel, "cancelled", "cancel")

    @admin.action(description="Retry failed messages", permissions=["change"])
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[Mailing]) -> None:
        self._act(
            request, queryset, services.mailing_retry_failed, "failed messages retried", "retry"
        )

    def delete_model(self, request: HttpRequest, obj: Mailing) -> None:
        services.mailing_delete(mailing=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Mailing]) -> None:
        for mailing in queryset:
            services.mailing_delete(mailing=mailing)


@admin.register(Message)
class MessageAdmin(RoleAdmin):
    masked_phone_fields = ("phone",)
    list_display = [
        "id",
        "mailing",
        "client_id",
        "phone",
        "status",
        "attempts",
        "sent_at",
        "last_error",
    ]
    list_filter = ["status"]
    search_fields = ["=phone", "=mailing__id"]
    readonly_fields = [f.name for f in Message._meta.fields]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Message]:
        return super().get_queryset(request).select_related("mailing")

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        return lookup == "mailing__id__exact" or super().lookup_allowed(lookup, value, request)
