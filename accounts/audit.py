"""The audit log's one writer (SPEC 8.1): every write through the API or the admin calls
``audit_record`` with who did it, ``<object_type>.<verb>`` and the object."""

from __future__ import annotations

from typing import Any

from accounts.models import AuditEntry

OBJECT_TYPES = ("client", "mailing", "stoplist", "key", "user")


def actor_of(user: Any) -> str:
    """A username, or ``key:<name>`` for an API key; ``system`` when nobody signed in."""
    key_name = getattr(user, "key_name", None)
    if key_name:
        return f"key:{key_name}"
    username = user.get_username() if hasattr(user, "get_username") else ""
    return username or "system"


def audit_record(
    *, actor: Any, action: str, object_id: Any = "", details: dict[str, Any] | None = None
) -> AuditEntry:
    """Append one entry. ``actor`` is a user (or key principal) or already a name."""
    object_type = action.split(".", 1)[0]
    if object_type not in OBJECT_TYPES:
        raise ValueError(f"unknown object type in {action!r}")
    name = actor if isinstance(actor, str) else actor_of(actor)
    return AuditEntry.objects.create(
        actor=name[:160],
        action=action,
        object_type=object_type,
        object_id=str(object_id if object_id is not None else "")[:64],
        details=details or {},
    )
