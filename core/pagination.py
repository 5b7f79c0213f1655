from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from django.db.models import Model, QuerySet
from rest_framework import pagination

if TYPE_CHECKING:  # DRF imports this module while it builds GenericAPIView
    from rest_framework.generics import GenericAPIView

_M = TypeVar("_M", bound=Model)


class PageNumberPagination(pagination.PageNumberPagination):
    """``?page=`` and ``?page_size=`` (at most 1000); answers count, next, previous, results."""

    page_size_query_param = "page_size"
    max_page_size = 1000


def paginate(view: GenericAPIView, queryset: QuerySet[_M] | KnownCount) -> list[_M]:
    """The current page of ``queryset`` (views here always paginate)."""
    page = view.paginate_queryset(queryset)  # type: ignore[arg-type]  # duck-typed QuerySet
    if page is None:
        raise RuntimeError("pagination is off for this view")
    return list(page)


class KnownCount:
    """A queryset whose total is already known (from the counters), so that paginating it
    does not run ``SELECT COUNT(*)`` over a large table."""

    ordered = True

    def __init__(self, queryset: QuerySet[Any], count: int) -> None:
        self._queryset = queryset
        self._count = count

    def count(self) -> int:
        return self._count

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, key: Any) -> Any:
        return self._queryset[key]
