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

from accounts.roles import with_roles


class _UsersWithRoles:
    """What simplejwt's ``JWTAuthentication`` reads of its ``user_model``: ``objects``
    (here, each user with their role) and ``DoesNotExist``."""

    def __init__(self, model: Any) -> None:
        self.objects = with_roles(model.objects.all())
        self.DoesNotExist = model.DoesNotExist


@functools.cache  # DRF makes an authenticator per request; the query is built once
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
