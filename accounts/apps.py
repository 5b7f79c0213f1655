from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and access"

    def ready(self) -> None:
        # Registers the Api-Key and JWT schemes with drf-spectacular (an extension is found
        # by import).
        from accounts import apikeys, authentication  # noqa: F401
