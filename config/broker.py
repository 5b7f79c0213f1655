"""The embedded broker: kombu's filesystem transport, with atomic writes; and what beat
publishes on any broker.

kombu's own ``_put`` creates the message file, then writes it; a consumer listing the folder
in between moves the empty file away and fails to decode it, which stops the worker's
consumer — a stall seen once in our end-to-end runs. Here a message is written to a
temporary name the consumer ignores and renamed into place, which is atomic on POSIX.
Its folders (all under ``BROKER_DIR``) are made when a channel opens, not when the settings
are imported. Used when CELERY_BROKER_URL is ``filesystem://`` (settings:
CELERY_BROKER_TRANSPORT).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for folder in (self.data_folder_in, self.data_folder_out, self.processed_folder):
            Path(folder).mkdir(parents=True, exist_ok=True)
        self.control_folder.mkdir(parents=True, exist_ok=True)

    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # "<queue>.msg.tmp" does not match the "<queue>.msg" the consumer looks for.
        partial = f"{final}.tmp"
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel


def transport_options(broker_dir: Path) -> dict[str, Any]:
    """The embedded broker's folders (kombu's default control folder is "control" in the
    working directory: ours is under BROKER_DIR too)."""
    return {
        "data_folder_in": str(broker_dir / "queue"),
        "data_folder_out": str(broker_dir / "queue"),
        "processed_folder": str(broker_dir / "processed"),
        "control_folder": str(broker_dir / "control"),
        "store_processed": False,
        "polling_interval": 0.1,
    }


def beat_schedule(*, tick_seconds: float) -> dict[str, Any]:
    """What beat publishes. Due times live in the database; beat only ticks."""
    return {
        "daily-report": {
            "task": "reports.tasks.daily_report",
            "schedule": 30.0,  # it sends only once a day; this only asks whether it is time
            "options": {"expires": 60.0},
        },
        "idempotency-purge": {
            "task": "core.tasks.idempotency_purge",
            "schedule": 3600.0,
            "options": {"expires": 600.0},
        },
        "scheduler-tick": {
            "task": "delivery.tasks.tick",
            "schedule": tick_seconds,
            # A tick that waited longer than a few ticks is stale: the next one does its work.
            "options": {"expires": max(5.0, 5 * tick_seconds)},
        },
    }
