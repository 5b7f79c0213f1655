from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from django.db.models import Model, QuerySet
from rest_framework import pagination
from rest_framework.exceptions import ValidationError

if TYPE_CHECKING:  # DRF imports this module while it builds GenericAPIView
    from rest_framework.generics import GenericAPIView

_M = TypeVar("_M", bound=Model)


class PageNumberPagination(pagination.PageNumberPagination):
    """``?page=`` and ``?page_size=`` (1 to 1000; anything else is a 400); answers count,
    next, previous, results."""

    page_size_query_param = "page_size"
    max_page_size = 1000

    def get_page_size(self, request: Any) -> int | None:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= self.max_page_size):
            message = f"Send a whole number from 1 to {self.max_page_size}."
            raise ValidationError({self.page_size_query_param: [message]})
        return int(raw)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": 1000}
        return parameters


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
