"""Log formatting: JSON lines for machines, one readable line for people.

Context travels as ``extra=``: every line about a mailing, a message or a client carries
``mailing_id``, ``message_id``, ``client_id`` as they apply. Phone numbers are passed
through :func:`mask_phone` before they reach a log call.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys()
    | {"message", "asctime", "taskName"}
)
CONTEXT_KEYS = ("mailing_id", "message_id", "client_id")


def mask_phone(phone: str | int | None) -> str:
    """``79001234567`` → ``7900***4567``: enough to recognise, not enough to dial."""
    if phone is None:
        return ""
    digits = str(phone)
    if len(digits) <= 7:
        return "***"
    return f"{digits[:4]}***{digits[-4:]}"


# A phone number inside any text (a gateway's error, a request path): 7 or 8 and ten more
# digits, as a whole number (not inside a longer run of digits).
PHONE_IN_TEXT = re.compile(r"(?<!\d)(\+?[78])(\d{3})\d{3}(\d{4})(?!\d)")


def mask_phones_in(text: str) -> str:
    """Every phone number in ``text`` masked as ``mask_phone`` does (``7900***4567``)."""
    return PHONE_IN_TEXT.sub(lambda m: f"{m.group(1)}{m.group(2)}***{m.group(3)}", text)


def _clean(value: Any) -> Any:
    return mask_phones_in(value) if isinstance(value, str) else value


def _extra(record: logging.LogRecord) -> dict[str, Any]:
    return {k: _clean(v) for k, v in record.__dict__.items() if k not in _STANDARD_ATTRS}


def _escaped(text: str) -> str:
    """CR and LF shown as \\r and \\n: a value cannot start a forged line of its own."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": mask_phones_in(record.getMessage()),
        }
        payload.update(_extra(record))
        if record.exc_info:
            payload["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        time = datetime.fromtimestamp(record.created, tz=UTC).strftime("%H:%M:%S.%f")[:-3]
        extra = " ".join(f"{k}={_escaped(str(v))}" for k, v in _extra(record).items())
        message = _escaped(mask_phones_in(record.getMessage()))
        line = f"{time} {record.levelname:<7} {record.name}: {message}"
        if extra:
            line = f"{line} [{extra}]"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


def logging_config(*, fmt: str, level: str) -> dict[str, Any]:
    """Django's LOGGING: one handler on standard output, JSON or text (``LOG_FORMAT``)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {"()": "core.logging.JsonFormatter"},
            "text": {"()": "core.logging.TextFormatter"},
        },
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": "text" if fmt == "text" else "json",
            },
        },
        "root": {"handlers": ["stdout"], "level": level},
        "loggers": {
            "django.server": {"level": "WARNING"},
            # The api logger writes one line per request with its ids; these would repeat it.
            "django.request": {"level": "ERROR"},
            "celery": {"level": "INFO"},
            # One line per task and per beat tick (every second) drowns everything else.
            "celery.app.trace": {"level": "WARNING"},
            "celery.beat": {"level": "WARNING"},
            "celery.worker.strategy": {"level": "WARNING"},
        },
    }
