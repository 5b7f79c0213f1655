"""The operators' side of mailings in Django's admin: the same validation and the same service
functions as the API, counts from the counters, actions start / cancel / retry failed."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from core.exceptions import Conflict, InvalidInput
from mailings import selectors, services
from mailings.models import Mailing, Message, MessageStatus
from mailings.serializers import MailingSerializer

PROGRESS_COLOURS = {
    MessageStatus.SENT: "#2e7d32",
    MessageStatus.FAILED: "#c62828",
    MessageStatus.EXPIRED: "#9e9e9e",
    MessageStatus.CANCELLED: "#6d4c41",
    MessageStatus.SENDING: "#1565c0",
    MessageStatus.PENDING: "#90caf9",
}
FIELDS = [
    "text",
    "start_at",
    "end_at",
    "filter_operator_code",
    "filter_tag",
    "send_window_start",
    "send_window_end",
]


# Where the API's nested errors land on the admin's form.
FORM_FIELD_OF: dict[tuple[str, ...], str] = {
    ("filter", "operator_code"): "filter_operator_code",
    ("filter", "tag"): "filter_tag",
    ("send_window", "start"): "send_window_start",
    ("send_window", "end"): "send_window_end",
    ("send_window", "non_field_errors"): "send_window_end",
}


def api_body(data: dict[str, Any]) -> dict[str, Any]:
    """The form's fields as the body of ``POST /api/mailings/``."""
    start, end = data.get("send_window_start"), data.get("send_window_end")
    window = {"start": start, "end": end} if start is not None or end is not None else None
    return {
        "text": data.get("text") or "",
        "start_at": data.get("start_at"),
        "end_at": data.get("end_at"),
        "filter": {
            "operator_code": data.get("filter_operator_code") or None,
            "tag": data.get("filter_tag") or None,
        },
        "send_window": window and {k: v.strftime("%H:%M") for k, v in window.items() if v},
    }


class MailingForm(forms.ModelForm):
    """Django's widgets, the API's validation: ``clean`` runs the API's serializer on the
    same body the API would get, then the services' own checks, so the admin refuses exactly
    what the API refuses, with the same messages."""

    class Meta:
        model = Mailing
        fields = FIELDS

    validated: dict[str, Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["text"].required = False  # an empty text: the API's message, not Django's

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:  # a date the widget could not read: say that first
            return data
        serializer = MailingSerializer(data=api_body(data))
        if not serializer.is_valid():
            self._add_api_errors(serializer.errors)
            return data
        self.validated = dict(serializer.validated_data)
        now = timezone.now()
        try:
            if self.instance.pk is None:
                services.mailing_check_times(
                    start_at=self.validated["start_at"], end_at=self.validated["end_at"], now=now
                )
            else:
                current = Mailing.objects.get(pk=self.instance.pk)
                self._keep_unchanged_instants(current)
                services.mailing_changes_allowed(mailing=current, changes=self.validated, now=now)
        except InvalidInput as exc:
            self._add_api_errors(exc.errors)
        except Conflict as exc:
            raise forms.ValidationError(str(exc.detail)) from exc
        return data

    def _keep_unchanged_instants(self, current: Mailing) -> None:
        """The widgets show whole seconds: a time sent back as shown is the stored one, not
        a change (which a running mailing would refuse for ``start_at``)."""
        for name in ("start_at", "end_at"):
            stored = getattr(current, name)
            if self.validated.get(name) == stored.replace(microsecond=0):
                self.validated[name] = stored

    def _add_api_errors(self, errors: Any, path: tuple[str, ...] = ()) -> None:
        if isinstance(errors, str):
            errors = {"non_field_errors": [errors]}
        for key, value in errors.items():
            where = (*path, str(key))
            if isinstance(value, dict):
                self._add_api_errors(value, where)
                continue
            field = FORM_FIELD_OF.get(where) or (key if key in self.fields else None)
            self.add_error(field, [str(message) for message in value])


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
class MailingAdmin(admin.ModelAdmin):
    form = MailingForm
    list_display = ["id", "short_text", "status", "start_at", "end_at", "progress"]
    list_filter = ["status"]
    search_fields = ["text"]
    readonly_fields = [
        "status",
        "created_at",
        "started_at",
        "finished_at",
        "counts",
        "deliveries_chart",
    ]
    actions = ["start_now", "cancel", "retry_failed"]

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

    def _act(self, request: HttpRequest, queryset: QuerySet[Mailing], act: Any, verb: str) -> None:
        for mailing in queryset:
            try:
                act(mailing=mailing)
            except (Conflict, InvalidInput) as exc:
                self.message_user(request, f"Mailing {mailing.pk}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"Mailing {mailing.pk}: {verb}.", messages.SUCCESS)

    @admin.action(description="Start now")
    def start_now(self, request: HttpRequest, queryset: QuerySet[Mailing]) -> None:
        self._act(request, queryset, services.mailing_start_now, "starting")

    @admin.action(description="Cancel")
    def cancel(self, request: HttpRequest, queryset: QuerySet[Mailing]) -> None:
        self._act(request, queryset, services.mailing_cancel, "cancelled")

    @admin.action(description="Retry failed messages")
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[Mailing]) -> None:
        self._act(request, queryset, services.mailing_retry_failed, "failed messages retried")

    def delete_model(self, request: HttpRequest, obj: Mailing) -> None:
        services.mailing_delete(mailing=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Mailing]) -> None:
        for mailing in queryset:
            services.mailing_delete(mailing=mailing)


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
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
