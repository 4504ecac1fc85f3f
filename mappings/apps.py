from django.apps import AppConfig


class MappingsConfig(AppConfig):
    name = "mappings"
    verbose_name = "Server name mappings"
    default_auto_field = "django.db.models.BigAutoField"
