"""Every status change of a ``Message``, and nothing else: the one owner of that state.

``lifecycle``: a launch creates and schedules messages, operators cancel and retry them, a
client's deletion detaches them, the end time expires them; ``delivery``: the dispatcher
claims them and records outcomes, the scheduler recovers lapsed claims.

    pending ──claim──▶ sending ──outcome──▶ sent | failed | expired | pending (retry, window)
    pending ──▶ cancelled (mailing cancelled, client deleted) | expired (end time, no window)
    (launch) ──▶ suppressed (stop list, no consent)   pending ──claim──▶ suppressed (listed since)
    sending ──lease lapsed──▶ pending        failed ──retry──▶ pending

Other modules call these services (the mailing services, the dispatcher, the scheduler);
none writes a message's status itself. Every write is a conditional update on the current
status (and, for a claimed message, the claim's token), so two dispatchers, the scheduler
and the API can never both move one message.
"""

from mailings.messages.delivery import (
    ClaimedMessage,
    MessageOutcome,
    messages_claim,
    messages_record_outcomes,
    messages_recover_lapsed,
    messages_renew_leases,
)
from mailings.messages.lifecycle import (
    messages_cancel,
    messages_create,
    messages_detach_deleted_clients,
    messages_expire,
    messages_retry_failed,
    messages_schedule_window,
)

__all__ = [
    "ClaimedMessage",
    "MessageOutcome",
    "messages_cancel",
    "messages_claim",
    "messages_create",
    "messages_detach_deleted_clients",
    "messages_expire",
    "messages_record_outcomes",
    "messages_recover_lapsed",
    "messages_renew_leases",
    "messages_retry_failed",
    "messages_schedule_window",
]
