from typing import Any

from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate


class ClientsConfig(AppConfig):
    name = "clients"
    verbose_name = "Clients"

    def ready(self) -> None:
        post_migrate.connect(_resync_client_count, sender=self)


def _resync_client_count(using: str = "default", **kwargs: Any) -> None:
    """After ``migrate`` or ``flush``: the client count derived from the table again."""
    from clients import counters

    if using != "default":
        return  # the counters live in the default database
    if counters.DELTAS not in connections[using].introspection.table_names():
        return  # migrated back before the count existed
    counters.clients_count_resync()
