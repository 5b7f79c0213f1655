from __future__ import annotations

from rest_framework.routers import SimpleRouter


class Router(SimpleRouter):
    """The seed's routes work with and without the trailing slash (``…/start_mailing``)."""

    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"
