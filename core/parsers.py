"""The API's JSON parser: DRF's, plus the input rules of SPEC 8.1 that hold for every field
of every route — nesting at most ``MAX_DEPTH`` levels, and no NUL character or unpaired
surrogate in any string (either would reach the database as an error, or worse). A body
that breaks them is a 400 naming where, before any view sees it."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 32


def _where(path: list[str]) -> str:
    return "".join(f"[{p}]" for p in path) or "the body"


def check_value(value: Any, path: list[str] | None = None, *, strings: bool = True) -> None:
    """Walk the parsed body without recursion (a deep body must not blow the stack)."""
    stack: list[tuple[Any, list[str], int]] = [(value, path or [], 1)]
    while stack:
        current, where, depth = stack.pop()
        if isinstance(current, dict | list):
            if depth > MAX_DEPTH:
                raise ParseError(f"JSON nested deeper than {MAX_DEPTH} levels.")
            items = current.items() if isinstance(current, dict) else enumerate(current)
            for key, item in items:
                if strings and isinstance(key, str):
                    check_text(key, where)
                stack.append((item, [*where, str(key)[:40]], depth + 1))
        elif strings and isinstance(current, str):
            check_text(current, where)


def check_text(text: str, where: list[str]) -> None:
    if "\x00" in text:
        raise ParseError(f"A NUL character in {_where(where)}: not allowed in any field.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ParseError(
            f"An unpaired surrogate (\\ud800-\\udfff) in {_where(where)}: not text."
        ) from None


class SafeJSONParser(JSONParser):
    check_strings = True

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON nested deeper than {MAX_DEPTH} levels.") from None
        check_value(data, strings=self.check_strings)
        return data


class ImportJSONParser(SafeJSONParser):
    """The import routes' JSON: the depth rule for the body, while text rules are the rows'
    own (a row with a NUL or a lone surrogate is rejected, and the others go in)."""

    check_strings = False
