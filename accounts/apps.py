from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and access"

    def ready(self) -> None:
        # Registers the Api-Key scheme with drf-spectacular (an extension is found by import).
        from accounts import apikeys  # noqa: F401
