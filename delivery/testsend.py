"""Sending the due test sends (``mailings.testsends``) through the gateway, now.

A handful of requests at a time: no dispatcher slot, no rate limit, no breaker, since an
operator is waiting for the phone in their hand. The retry policy is the messages' own,
with the end time ``TEST_SEND_RETRY_SECONDS`` after the test send was created.
"""

from __future__ import annotations

import asyncio
import logging

from django.conf import settings
from django.utils import timezone

from core.logging import mask_phone
from delivery import metrics
from delivery.policy import Kind, RetryPolicy, decide
from gateway.client import GatewayClient, GatewayError
from mailings.models import TestSendStatus
from mailings.testsends import ClaimedTestSend, claim_test_sends, record_test_send

logger = logging.getLogger("delivery.dispatcher")

STATUS_OF = {
    Kind.SENT: TestSendStatus.SENT,
    Kind.FAILED: TestSendStatus.FAILED,
    Kind.EXPIRED: TestSendStatus.FAILED,  # its ten minutes are up
    Kind.RETRY: TestSendStatus.PENDING,
    Kind.RELEASED: TestSendStatus.PENDING,
}


async def _send_all(claimed: list[ClaimedTestSend]) -> list[GatewayError | None]:
    async with GatewayClient(
        settings.GATEWAY_URL,
        settings.GATEWAY_TOKEN,
        timeout=settings.GATEWAY_TIMEOUT_SECONDS,
        max_in_flight=max(len(claimed), 1),
    ) as gateway:

        async def one(item: ClaimedTestSend) -> GatewayError | None:
            try:
                await gateway.send(msg_id=item.msg_id, phone=item.phone, text=item.text)
            except GatewayError as exc:
                return exc
            return None

        return await asyncio.gather(*(one(item) for item in claimed))


def send_due_test_sends() -> int:
    """Claim the due test sends, send them, record each outcome; returns how many went."""
    claimed = claim_test_sends()
    if not claimed:
        return 0
    errors = asyncio.run(_send_all(claimed))
    policy = RetryPolicy.from_settings()
    now = timezone.now()
    for item, error in zip(claimed, errors, strict=True):
        decision = decide(
            error, attempts=item.attempts, now=now, end_at=item.give_up_at, policy=policy
        )
        record_test_send(
            test_send_id=item.id,
            status=STATUS_OF[decision.kind],
            attempts=decision.attempts,
            next_attempt_at=decision.next_attempt_at,
            error=decision.error,
        )
        metrics.TEST_SENDS.labels(decision.kind.value).inc()
        logger.info(
            "test send attempt",
            extra={
                "test_send_id": item.id,
                "msg_id": item.msg_id,
                "phone": mask_phone(item.phone),
                "outcome": decision.kind.value,
                "error": decision.error,
            },
        )
    return len(claimed)
