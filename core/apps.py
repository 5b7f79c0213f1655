from __future__ import annotations

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"

    def ready(self) -> None:
        from django.db.models import IntegerField

        from core.lookups import AnyOf

        IntegerField.register_lookup(AnyOf)
