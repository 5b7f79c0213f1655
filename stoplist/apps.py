from django.apps import AppConfig


class StoplistConfig(AppConfig):
    name = "stoplist"
    verbose_name = "Stop list"
