"""Roles (SPEC 8.1): ``viewer`` < ``operator`` < ``admin``, as Django groups that a migration
creates. A superuser counts as ``admin``; an API key acts with its own role.

- viewer: reads clients, mailings, messages, statistics; phones masked wherever it looks;
- operator: all of viewer, full phones, and every write: clients, imports, mailings and
  their actions, the stop list, test sends, exports;
- admin: all of operator, plus users, API keys and the audit log.

Every check asks one question, ``has_role(user, wanted)``; no view reads groups itself.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group
from django.db.models import Case, IntegerField, OuterRef, QuerySet, Subquery, Value, When

from core.logging import mask_phone

VIEWER, OPERATOR, ADMIN = "viewer", "operator", "admin"
ROLES = (VIEWER, OPERATOR, ADMIN)
RANK = {role: rank for rank, role in enumerate(ROLES)}


def role_of(user: Any) -> str | None:
    """The highest role the user (or API key principal) holds; None: no role."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    if not getattr(user, "is_active", True):
        return None
    direct = getattr(user, "role", None)  # an API key's principal carries its role
    if direct in RANK:
        return str(direct)
    if getattr(user, "is_superuser", False):
        return ADMIN
    cached = getattr(user, "_role_cache", False)
    if cached is None or isinstance(cached, str):
        return cached
    names = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
    found = max(names, key=RANK.__getitem__) if names else None
    user._role_cache = found
    return found


def with_roles(users: QuerySet[Any]) -> QuerySet[Any]:
    """``users`` with each one's highest role read in the same query, where ``role_of``
    looks first: the API's authentication (``accounts.authentication``) spends one round
    trip to the database per request on its user, not two."""
    rank = Case(
        *(When(name=role, then=Value(RANK[role])) for role in ROLES),
        output_field=IntegerField(),
    )
    highest = (
        Group.objects.filter(user=OuterRef("pk"), name__in=ROLES)
        .order_by(rank.desc())
        .values("name")[:1]
    )
    return users.annotate(_role_cache=Subquery(highest))


def has_role(user: Any, wanted: str) -> bool:
    role = role_of(user)
    return role is not None and RANK[role] >= RANK[wanted]


def set_role(user: Any, role: str | None, *, actor: Any = None) -> None:
    """Make ``role`` the user's only role (None: none). Staff status follows, so that a
    role opens the admin and no role closes it. With an ``actor``, a change of role is
    recorded in the audit log."""
    if role is not None and role not in RANK:
        raise ValueError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    user._role_cache = False
    before = role_of(user) if actor is not None else None
    groups = {group.name: group for group in Group.objects.filter(name__in=ROLES)}
    user.groups.remove(*groups.values())
    if role is not None:
        # The migration made the groups; a test database flushed since may have lost them.
        user.groups.add(groups.get(role) or Group.objects.get_or_create(name=role)[0])
    if not user.is_superuser:
        user.is_staff = role is not None
        user.save(update_fields=["is_staff"])
    user._role_cache = False
    if actor is not None and before != role:
        from accounts.audit import audit_record

        audit_record(
            actor=actor,
            action="user.update",
            object_id=user.pk,
            details={"role": {"from": before, "to": role}},
        )


def phone_for(user: Any, phone: str | None) -> str | None:
    """A phone as this user may see it: whole for an operator or admin, masked otherwise."""
    if phone is None or has_role(user, OPERATOR):
        return phone
    return mask_phone(phone)
