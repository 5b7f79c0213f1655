"""The admin's mailing form: Django's widgets, the API's validation."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone

from core.exceptions import Conflict, InvalidInput
from mailings import services
from mailings.models import Mailing
from mailings.serializers import MailingSerializer

FIELDS = [
    "text",
    "start_at",
    "end_at",
    "filter_operator_code",
    "filter_tag",
    "send_window_start",
    "send_window_end",
    "kind",
    "priority",
    "max_rate",
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
        "kind": data.get("kind") or "service",
        "priority": data.get("priority") or "normal",
        "max_rate": data.get("max_rate"),
    }


class MailingForm(forms.ModelForm):
    """Django's widgets, the API's validation: ``clean`` runs the API's serializer on the
    same body the API would get, then the services' own checks, so the admin refuses exactly
    what the API refuses, with the same messages."""

    class Meta:
        model = Mailing
        fields = FIELDS

    class Media:
        js = ["mailings/segments.js"]  # characters, segments and the preview as one types

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
