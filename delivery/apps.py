from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "delivery"
    verbose_name = "Delivery"

    def ready(self) -> None:
        from core.metrics import register_scrape_collector
        from delivery.metrics import DatabaseCollector

        register_scrape_collector(DatabaseCollector())
