"""Every status change of a ``Mailing``, and the one owner of that state.

``actions``: what operators do (create, update, start now, cancel, retry, delete);
``control``: pause and resume, by an operator or on mostly failed outcomes;
``lifecycle``: what the scheduler does (launch in chunks, resume a stalled launch, finish).
The messages' side of each goes through ``mailings.messages``.
"""

from mailings.services.actions import (
    RUNNING_EDITABLE,
    mailing_cancel,
    mailing_changes_allowed,
    mailing_check_times,
    mailing_create,
    mailing_delete,
    mailing_retry_failed,
    mailing_start_now,
    mailing_update,
)
from mailings.services.control import mailing_pause, mailing_resume, mailings_auto_pause
from mailings.services.lifecycle import (
    LAUNCH_CHUNK,
    mailing_launch,
    mailing_populate,
    mailings_finish_completed,
    mailings_finish_ended,
    mailings_launch_stalled,
)

__all__ = [
    "LAUNCH_CHUNK",
    "RUNNING_EDITABLE",
    "mailing_cancel",
    "mailing_changes_allowed",
    "mailing_check_times",
    "mailing_create",
    "mailing_delete",
    "mailing_launch",
    "mailing_pause",
    "mailing_populate",
    "mailing_resume",
    "mailing_retry_failed",
    "mailing_start_now",
    "mailing_update",
    "mailings_auto_pause",
    "mailings_finish_completed",
    "mailings_finish_ended",
    "mailings_launch_stalled",
]
