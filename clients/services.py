"""Writes to the client directory."""

from __future__ import annotations

import logging
from typing import Any

from django.db import IntegrityError, transaction

from clients.models import Client
from core.exceptions import InvalidInput
from core.logging import mask_phone
from mailings.models import Message, MessageStatus

logger = logging.getLogger(__name__)

DUPLICATE_PHONE = "A client with this phone exists."


def client_create(
    *, phone: str, operator_code: str, tag: str = "", timezone: str = "UTC"
) -> Client:
    try:
        with transaction.atomic():
            client = Client.objects.create(
                phone=phone, operator_code=operator_code, tag=tag, timezone=timezone
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

    Messages already in flight keep their lease and record their real outcome; the
    dispatcher never retries a message whose client is gone. The messages themselves stay
    (with ``client_id`` null) so that statistics do not change.
    """
    client_id = client.pk
    with transaction.atomic():
        cancelled = Message.objects.filter(
            client_id=client_id, status=MessageStatus.PENDING
        ).update(status=MessageStatus.CANCELLED, next_attempt_at=None, last_error="client deleted")
        client.delete()
    logger.info("client deleted", extra={"client_id": client_id, "cancelled_messages": cancelled})
