from __future__ import annotations

from datetime import time
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class MailingStatus(models.TextChoices):
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"  # by an operator, or by itself on mostly failed outcomes
    FINISHED = "finished"
    CANCELLED = "cancelled"


class Kind(models.TextChoices):
    SERVICE = "service"
    ADVERTISING = "advertising"  # to consenting clients only, in ADVERTISING_WINDOW by default


class Priority(models.TextChoices):
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


# The claim serves the running mailings in this order (mailings.messages.delivery).
PRIORITY_RANK = {Priority.HIGH: 0, Priority.NORMAL: 1, Priority.LOW: 2}


class MessageStatus(models.TextChoices):
    PENDING = "pending"  # waiting for its turn: first attempt, retry backoff or send window
    SENDING = "sending"  # claimed by a worker under a lease, request in flight
    SENT = "sent"
    FAILED = "failed"  # permanent error or attempts exhausted
    EXPIRED = "expired"  # the mailing's end time came first
    CANCELLED = "cancelled"  # mailing cancelled, or client deleted, before delivery
    SUPPRESSED = "suppressed"  # never sent: stop list, or no consent to advertising


# A suppressed message's last_error: why it was never sent.
SUPPRESSED_STOP_LIST = "stop list"
SUPPRESSED_NO_CONSENT = "no consent"

UNDELIVERED_MESSAGE_STATUSES = frozenset({MessageStatus.PENDING, MessageStatus.SENDING})

if TYPE_CHECKING:
    from django.db.models.deletion import Collector


def cancel_pending_and_detach(
    collector: Collector, field: models.Field[Any, Any], sub_objs: Any, using: str
) -> None:
    """``on_delete`` of ``Message.client``: see ``mailings.messages``, which owns the change."""
    from mailings.messages import messages_detach_deleted_clients

    messages_detach_deleted_clients(collector=collector, messages=sub_objs)


# The collector may pass a lazy queryset (as for SET_NULL): no need to fetch the messages.
cancel_pending_and_detach.lazy_sub_objs = True  # type: ignore[attr-defined]


class Mailing(models.Model):
    text = models.TextField()
    start_at = models.DateTimeField()
    end_at = models.DateTimeField()
    # Filter: an empty criterion matches every client; given ones must all match.
    filter_operator_code = models.CharField(max_length=3, blank=True, default="")
    filter_tag = models.CharField(max_length=64, blank=True, default="")
    # Daily window in each client's local time; both null means any time.
    send_window_start = models.TimeField(null=True, blank=True)
    send_window_end = models.TimeField(null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=MailingStatus.choices, default=MailingStatus.SCHEDULED
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True, editable=False)
    # db_default too: rows written in SQL (benchmarks, tools) get it like the ORM's.
    kind = models.CharField(
        max_length=16, choices=Kind.choices, default=Kind.SERVICE, db_default=Kind.SERVICE
    )
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.NORMAL)
    # Segments per second for this mailing alone (null: only GATEWAY_RATE limits it).
    max_rate = models.FloatField(null=True, blank=True)
    # Why it is paused: "operator", or the automatic reason with its counts.
    paused_reason = models.CharField(max_length=500, blank=True, default="")
    # Whether the early outcomes were weighed for an automatic pause (once per mailing).
    auto_pause_checked = models.BooleanField(default=False, editable=False)
    # The launch creates the messages in chunks of clients in id order (mailings/lifecycle):
    # the last client id done, when the last chunk was written, and when it was complete.
    launch_cursor = models.BigIntegerField(default=0, editable=False)
    launch_progress_at = models.DateTimeField(null=True, blank=True, editable=False)
    launched_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_at__gt=F("start_at")), name="mailing_end_after_start"
            ),
            models.CheckConstraint(
                condition=Q(send_window_start__isnull=True, send_window_end__isnull=True)
                | (
                    Q(send_window_start__isnull=False, send_window_end__isnull=False)
                    & ~Q(send_window_start=F("send_window_end"))
                ),
                name="mailing_send_window_complete",
            ),
            models.CheckConstraint(
                condition=Q(status__in=MailingStatus.values), name="mailing_status_valid"
            ),
        ]
        indexes = [
            # The scheduler's questions: which scheduled mailings are due, which running ended.
            models.Index(fields=["status", "start_at"], name="mailing_status_start"),
            models.Index(fields=["status", "end_at"], name="mailing_status_end"),
        ]

    def __str__(self) -> str:
        return f"Mailing {self.pk} ({self.status})"

    @property
    def window(self) -> tuple[time, time] | None:
        """The daily window its messages go out in: its own, or for an advertising mailing
        without one, ``ADVERTISING_WINDOW``; None: any time."""
        return effective_window(self.send_window_start, self.send_window_end, self.kind)


def effective_window(start: time | None, end: time | None, kind: str) -> tuple[time, time] | None:
    if start is not None and end is not None:
        return start, end
    if kind == Kind.ADVERTISING:
        return settings.ADVERTISING_WINDOW
    return None


class Message(models.Model):
    """One mailing's message to one client; its id is the gateway's ``msgId``."""

    # Messages are a high-volume record: their foreign keys are not checked by the database
    # (a launch of 1,000,000 messages spends half its time in those per-row checks). The
    # services keep them right: a launch selects existing clients, deleting a mailing
    # deletes its messages, deleting a client cancels its pending messages and nulls the
    # client of all of them (``cancel_pending_and_detach``, run by Django's delete).
    # No index of its own for the mailing: (mailing, client) and (mailing, status) start with it.
    mailing = models.ForeignKey(
        Mailing,
        on_delete=models.CASCADE,
        related_name="messages",
        db_index=False,
        db_constraint=False,
    )
    client = models.ForeignKey(
        "clients.Client",
        on_delete=cancel_pending_and_detach,
        null=True,
        related_name="messages",
        db_constraint=False,
    )
    phone = models.CharField(
        max_length=11, help_text="The client's phone when the mailing started."
    )
    status = models.CharField(
        max_length=16, choices=MessageStatus.choices, default=MessageStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    # When a pending message is next due (first try, retry backoff or window opening).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # While sending: which dispatcher holds the message, and when its claim lapses (then the
    # scheduler returns it to pending and it is sent again with the same msgId).
    lease_token = models.UUIDField(null=True, blank=True, editable=False)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["mailing", "client"], name="message_once_per_client"),
            models.CheckConstraint(
                condition=Q(status__in=MessageStatus.values), name="message_status_valid"
            ),
        ]
        indexes = [
            # A mailing's messages by status, in client order (pages of message_statistics,
            # cancel, expiry); (mailing, client) serves the unfiltered pages.
            models.Index(fields=["mailing", "status", "client"], name="message_mailing_status"),
            # Also serves the scheduler's search for lapsed leases among the few sending ones.
            models.Index(fields=["status", "next_attempt_at"], name="message_status_due"),
            # The claim: a running mailing's due messages, longest due first.
            models.Index(
                fields=["mailing", "status", "next_attempt_at"], name="message_mailing_due"
            ),
        ]

    def __str__(self) -> str:
        return f"Message {self.pk} ({self.status})"


class MessageCount(models.Model):
    """How many messages a mailing has in a status: the statistics' source.

    Database triggers on the message table append a row to ``MessageCountDelta`` for every
    change of status (one row per mailing and status per statement on PostgreSQL); the
    scheduler tick folds the deltas into these totals. Readers add the pending deltas in the
    same statement (``mailings.selectors``), so counts are exact at every moment, and reading
    them never scans the messages.
    """

    mailing_id = models.BigIntegerField()
    status = models.CharField(max_length=16)
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["mailing_id", "status"], name="message_count_key")
        ]

    def __str__(self) -> str:
        return f"{self.mailing_id}/{self.status}: {self.count}"


class MessageCountDelta(models.Model):
    """A change to ``MessageCount`` not yet folded in (append-only: writers never contend)."""

    mailing_id = models.BigIntegerField(db_index=True)
    status = models.CharField(max_length=16)
    delta = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.mailing_id}/{self.status}: {self.delta:+d}"


class TestSendStatus(models.TextChoices):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    SUPPRESSED = "suppressed"


# A test send's gateway msgId is this plus its id: never a message's id (message ids stay far
# below it), never another test send's. 2**52 keeps it exact in JavaScript clients too.
TEST_SEND_MSG_ID_BASE = 2**52


class TestSend(models.Model):
    """A mailing's text sent now to an operator's own number; counted in no statistic."""

    __test__ = False  # not a test case, whatever pytest makes of the name

    mailing = models.ForeignKey(Mailing, on_delete=models.CASCADE, related_name="test_sends")
    phone = models.CharField(max_length=11)
    status = models.CharField(
        max_length=16, choices=TestSendStatus.choices, default=TestSendStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # While a worker sends it: until when that claim holds (then another may retry it).
    lease_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="testsend_due")]

    def __str__(self) -> str:
        return f"Test send {self.pk} ({self.status})"

    @property
    def msg_id(self) -> int:
        return TEST_SEND_MSG_ID_BASE + self.pk
