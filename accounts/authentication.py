"""The API's bearer-token authentication: simplejwt's, with the user's role read in the same
query as the user (``accounts.roles.with_roles``).

Every API request authenticates, then asks for a role: two round trips to the database
before the view's own, on every call. Under load each round trip waits for the database's
turn on the CPU, so one fewer shows in the API's tail latency (benchmark 7).
"""

from __future__ import annotations

import functools
from typing import Any, cast

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.settings import api_settings

from accounts.roles import with_roles


class _UserWithRole:
    """``get(<id field>=value)``, the one call simplejwt makes on its user model's manager:
    the user with their role, in one statement compiled once per process.

    The statement is ``with_roles``'s (the ORM stays the one place a role is worked out),
    compiled for a stand-in id, which each call replaces with the token's. Compiling it per
    request (the subquery and the cases of ``with_roles``) cost 0.48 ms of CPU, the compiled
    statement run through ``raw`` 0.125 ms — of the ~3 ms a GET /api/clients/ costs the
    web.
    """

    STAND_IN = -739_146_021  # no user has this id

    def __init__(self, model: Any, field: str) -> None:
        self._model, self._field = model, model._meta.get_field(field)
        query = with_roles(model.objects.filter(**{field: self.STAND_IN})).query
        self._sql, params = query.sql_with_params()
        self._params = list(params)
        (self._at,) = [i for i, value in enumerate(self._params) if value == self.STAND_IN]

    def get(self, **lookup: Any) -> Any:
        ((field, value),) = lookup.items()
        if field != self._field.name:
            raise TypeError(f"looked up by {field}, compiled for {self._field.name}")
        params = self._params.copy()
        params[self._at] = self._field.get_prep_value(value)  # as the ORM's lookup would
        found = list(self._model.objects.raw(self._sql, params))
        if not found:
            raise self._model.DoesNotExist
        return found[0]  # the id field is unique


class _UsersWithRoles:
    """What simplejwt's ``JWTAuthentication`` reads of its ``user_model``: ``objects``
    (here, each user with their role) and ``DoesNotExist``."""

    def __init__(self, model: Any) -> None:
        self.objects = _UserWithRole(model, api_settings.USER_ID_FIELD)
        self.DoesNotExist = model.DoesNotExist


@functools.cache  # DRF makes an authenticator per request; the statement is compiled once
def _users_with_roles(model: Any) -> _UsersWithRoles:
    return _UsersWithRoles(model)


class JWTAuthentication(authentication.JWTAuthentication):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Stands in for the model where simplejwt reads it (``get_user``), and nowhere else.
        self.user_model = cast(Any, _users_with_roles(self.user_model))


class JWTScheme(SimpleJWTScheme):
    """The OpenAPI document's ``jwtAuth`` scheme, as for simplejwt's own class."""

    target_class = "accounts.authentication.JWTAuthentication"
