"""Log formatting: JSON lines for machines, one readable line for people.

Context travels as ``extra=``: every line about a mailing, a message or a client carries
``mailing_id``, ``message_id``, ``client_id`` as they apply. Phone numbers are passed
through :func:`mask_phone` before they reach a log call.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

import orjson

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
# digits, as a whole number (not inside a longer run of digits). The 7 or 8 comes first and
# the look back for a digit before it second: the pattern then starts with a set of two
# characters, which the engine scans for (0.15 µs on a log line without a number, 0.56 µs
# with the look back first; every log line's message and text values pass here). A "+"
# before the number stays where it is, outside the match.
PHONE_IN_TEXT = re.compile(r"([78])(?<!\d[78])(\d{3})\d{3}(\d{4})(?!\d)")


def mask_phones_in(text: str) -> str:
    """Every phone number in ``text`` masked as ``mask_phone`` does (``7900***4567``)."""
    return PHONE_IN_TEXT.sub(lambda m: f"{m.group(1)}{m.group(2)}***{m.group(3)}", text)


# The shortest text that can hold a phone number ("7" and ten digits): shorter strings, and
# anything not a string, are left as they are without running the pattern.
_SHORTEST_PHONE = 11


def _clean(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= _SHORTEST_PHONE:
        return mask_phones_in(value)
    return value


def _extra(record: logging.LogRecord) -> dict[str, Any]:
    return {k: _clean(v) for k, v in record.__dict__.items() if k not in _STANDARD_ATTRS}


def _json_line(payload: dict[str, Any]) -> str:
    """One JSON line: orjson (a third of json's time per line), json for what orjson refuses
    (an integer beyond 64 bits). Both print non-ASCII text as it is."""
    try:
        return orjson.dumps(payload, default=str).decode()
    except orjson.JSONEncodeError:
        return json.dumps(payload, default=str, ensure_ascii=False)


def _escaped(text: str) -> str:
    """CR and LF shown as \\r and \\n: a value cannot start a forged line of its own."""
    if "\n" in text or "\r" in text:
        return text.replace("\r", "\\r").replace("\n", "\\n")
    return text


# Values shown as they are: nothing in them to mask or escape.
_PLAIN = frozenset({int, float, bool, type(None)})


def _shown(value: Any) -> str:
    """A value that is not plain, as the text line shows it: phones masked, CR and LF
    escaped."""
    return _escaped(_clean(str(value)))


class _SecondCache:
    """A record's time formatted once per second (``strftime`` costs more than the rest of a
    line); the milliseconds are appended to it."""

    def __init__(self, fmt: str, suffix: str = "") -> None:
        self._fmt, self._suffix = fmt, suffix
        self._second = -1
        self._text = ""

    def __call__(self, created: float) -> str:
        # Rounded to the microsecond first, as datetime.fromtimestamp does (x.004 is stored
        # as x.00399…), then truncated to the millisecond.
        second, micro = divmod(round(created * 1_000_000), 1_000_000)
        if second != self._second:
            self._text = time.strftime(self._fmt, time.gmtime(second))
            self._second = second
        return f"{self._text}.{micro // 1000:03d}{self._suffix}"


class JsonFormatter(logging.Formatter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._time = _SecondCache("%Y-%m-%dT%H:%M:%S", "+00:00")

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": self._time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": mask_phones_in(record.getMessage()),
        }
        payload.update(_extra(record))
        if record.exc_info:
            payload["exc_info"] = self.formatException(record.exc_info)
        return _json_line(payload)


class TextFormatter(logging.Formatter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._time = _SecondCache("%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        # The plain values (most of them: ids, statuses, latencies) without a call each.
        extra = " ".join(
            [
                f"{k}={v}" if type(v) in _PLAIN else f"{k}={_shown(v)}"
                for k, v in record.__dict__.items()
                if k not in _STANDARD_ATTRS
            ]
        )
        message = _escaped(mask_phones_in(record.getMessage()))
        line = f"{self._time(record.created)} {record.levelname:<7} {record.name}: {message}"
        if extra:
            line = f"{line} [{extra}]"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


def lean_records() -> None:
    """Records skip what no formatter here prints (the logging HOWTO's "Optimization"): the
    caller's file and line (a walk up the stack per line), the thread's and process's names."""
    logging._srcfile = None  # the HOWTO's documented switch
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


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
