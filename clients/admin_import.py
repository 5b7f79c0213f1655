"""The admin's CSV import page, shared by the client directory and the stop list: an
upload form, the import through the app's own service, the result or the reason the file
could not be read, and an audit entry."""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.audit import audit_record
from clients.importing import ImportResult
from core.exceptions import InvalidInput


class ImportForm(forms.Form):
    file = forms.FileField()


def import_page(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    *,
    title: str,
    columns_help: str,
    action: str,
    run: Callable[[IO[bytes]], ImportResult],
) -> HttpResponse:
    """Answer the import page of ``model_admin``: ``run`` imports the uploaded file."""
    if not model_admin.has_add_permission(request):
        raise PermissionDenied
    form = ImportForm(request.POST or None, request.FILES or None)
    form.fields["file"].help_text = columns_help
    result: ImportResult | None = None
    error: Any = None
    if request.method == "POST" and form.is_valid():
        try:
            result = run(form.cleaned_data["file"].file)
        except InvalidInput as exc:
            error = exc.errors
        else:
            audit_record(
                actor=request.user,
                action=action,
                details={"via": "admin", "created": result.created, "updated": result.updated},
            )
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "form": form,
        "result": result,
        "error": error,
        "opts": model_admin.model._meta,
    }
    return render(request, "admin/clients/client/import.html", context)
