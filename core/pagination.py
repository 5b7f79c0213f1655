from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from django.db.models import Model, QuerySet
from rest_framework import pagination

if TYPE_CHECKING:  # DRF imports this module while it builds GenericAPIView
    from rest_framework.generics import GenericAPIView

_M = TypeVar("_M", bound=Model)


class PageNumberPagination(pagination.PageNumberPagination):
    """``?page=`` and ``?page_size=`` (at most 1000); answers count, next, previous, results."""

    page_size_query_param = "page_size"
    max_page_size = 1000


def paginate(view: GenericAPIView, queryset: QuerySet[_M]) -> list[_M]:
    """The current page of ``queryset`` (views here always paginate)."""
    page = view.paginate_queryset(queryset)
    return list(queryset) if page is None else list(page)
