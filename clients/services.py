"""Writes to the client directory."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from clients.models import Client
from core.exceptions import InvalidInput
from core.logging import mask_phone

logger = logging.getLogger(__name__)

DUPLICATE_PHONE = "A client with this phone exists."


def client_create(
    *,
    phone: str,
    operator_code: str,
    tag: str = "",
    timezone: str = "UTC",
    consent_at: datetime | None = None,
    consent_source: str = "",
) -> Client:
    try:
        # No savepoint of its own: the view's transaction (with the audit entry) rolls back
        # whole on a duplicate; two round trips to the database fewer per created client.
        with transaction.atomic(savepoint=False):
            client = Client.objects.create(
                phone=phone,
                operator_code=operator_code,
                tag=tag,
                timezone=timezone,
                consent_at=consent_at,
                consent_source=consent_source,
            )
    except IntegrityError as exc:
        # The serializer checked uniqueness; a concurrent create can still win the race.
        raise InvalidInput({"phone": [DUPLICATE_PHONE]}) from exc
    logger.info(
        "client created",
        extra={"client_id": client.pk, "phone": mask_phone(client.phone)},
    )
    return client


def client_update(*, client: Client, **fields: Any) -> Client:
    for name, value in fields.items():
        setattr(client, name, value)
    try:
        with transaction.atomic():
            client.save(update_fields=list(fields) or None)
    except IntegrityError as exc:
        raise InvalidInput({"phone": [DUPLICATE_PHONE]}) from exc
    logger.info("client updated", extra={"client_id": client.pk, "fields": sorted(fields)})
    return client


def client_delete(*, client: Client) -> None:
    """Delete a client; its undelivered messages become ``cancelled``.

    The messages belong to the mailings app, which declares what a client's deletion does
    to them (``Message.client``'s ``on_delete``, run in this transaction): pending ones are
    cancelled, all of them stay with ``client_id`` null so that statistics do not change, and
    those in flight record their real outcome and are never retried.
    """
    client_id = client.pk
    with transaction.atomic():
        client.delete()
    logger.info("client deleted", extra={"client_id": client_id})
