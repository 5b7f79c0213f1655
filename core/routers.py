from __future__ import annotations

from typing import Any

from rest_framework.routers import SimpleRouter


class Router(SimpleRouter):
    """The seed's routes work with and without the trailing slash (``…/start_mailing``); an
    id is digits, so ``/api/mailings/0.5/`` is a 404 like any unknown path, not a 500."""

    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"

    def get_lookup_regex(self, viewset: Any, lookup_prefix: str = "") -> str:
        field = getattr(viewset, "lookup_field", "pk")
        if field != "pk":  # a natural key (the stop list's phone): the viewset's own pattern
            return super().get_lookup_regex(viewset, lookup_prefix)
        return f"(?P<{lookup_prefix}pk>[0-9]+)"
