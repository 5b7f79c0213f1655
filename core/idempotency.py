"""``Idempotency-Key`` on the POST routes that create things (SPEC 8.6), Stripe's way.

The first request with a key claims it (a row unique per account and key) and runs; its
status and body are kept for ``TTL``. A repeat with the same method, path and body gets them
back with ``Idempotent-Replayed: true`` and changes nothing; the same key with another body
is a 422; a repeat while the first still runs is a 409. A server error is not kept: the key
is released, so the client's retry runs again.

Written here rather than taken from a library: the candidates on PyPI (drf-idempotency,
drf-idempotencykey, django-idempotency-key) each differ from this contract in one of the
rules above (the 409 while running, the 422 on another body, or per-account keys), and the
whole of it is this module and one model.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from core.models import IdempotencyRecord

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
TTL = timedelta(hours=24)

View = Callable[..., Response]


def fingerprint(request: Request) -> str:
    """SHA-256 of the method, the path and the body as parsed (files by their content)."""
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    data: Any = request.data
    files = getattr(request, "FILES", {})
    if files:
        for name in sorted(files):
            digest.update(f"file:{name}\n".encode())
            upload = files[name]
            for chunk in upload.chunks():
                digest.update(chunk)
            upload.seek(0)
        data = {k: v for k, v in data.items() if k not in files}
    digest.update(json.dumps(data, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def owner_of(request: Request) -> str:
    return f"user:{request.user.pk}"


def idempotent(view: View) -> View:
    """Wrap a DRF view method: honour the ``Idempotency-Key`` header when it is sent."""

    @functools.wraps(view)
    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return view(self, request, *args, **kwargs)
        if not key.strip() or len(key) > MAX_KEY_LENGTH:
            raise ValidationError({HEADER: [f"Send 1 to {MAX_KEY_LENGTH} characters."]})
        owner, print_ = owner_of(request), fingerprint(request)
        record, replay = _claim(owner, key, print_)
        if replay is not None:
            return replay
        try:
            response = view(self, request, *args, **kwargs)
        except BaseException:
            record.delete()
            raise
        _keep(record, response)
        return response

    return wrapper


def _claim(owner: str, key: str, print_: str) -> tuple[IdempotencyRecord, Response | None]:
    IdempotencyRecord.objects.filter(
        owner=owner, key=key, created_at__lt=timezone.now() - TTL
    ).delete()
    try:
        with transaction.atomic():
            return IdempotencyRecord.objects.create(owner=owner, key=key, fingerprint=print_), None
    except IntegrityError:
        pass
    first = IdempotencyRecord.objects.filter(owner=owner, key=key).first()
    if first is None:  # expired and deleted in between: this request is the first again
        return _claim(owner, key, print_)
    if first.fingerprint != print_:
        detail = "This Idempotency-Key was used with another request; use a new key."
        return first, Response({"detail": detail}, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
    if first.state == IdempotencyRecord.State.RUNNING:
        detail = "The first request with this Idempotency-Key is still running; retry shortly."
        return first, Response({"detail": detail}, status=status.HTTP_409_CONFLICT)
    replay = Response(first.body, status=first.status)
    replay["Idempotent-Replayed"] = "true"
    return first, replay


def _keep(record: IdempotencyRecord, response: Response) -> None:
    if response.status_code >= 500:
        record.delete()
        return
    record.state = IdempotencyRecord.State.DONE
    record.status = response.status_code
    record.body = json.loads(json.dumps(response.data, default=str))
    record.save(update_fields=["state", "status", "body"])


def idempotency_purge() -> int:
    """Forget the keys older than ``TTL``."""
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - TTL).delete()
    return deleted
