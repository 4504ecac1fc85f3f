from django.apps import AppConfig


class BackfillConfig(AppConfig):
    name = "backfill"
    verbose_name = "Backfill and post-migration validation"
    default_auto_field = "django.db.models.BigAutoField"
