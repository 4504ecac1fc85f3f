from django.apps import AppConfig
from django.db.models.signals import post_migrate


class RolloutConfig(AppConfig):
    name = "rollout"
    verbose_name = "Rollout control"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from rollout.models import ensure_default_flags

        post_migrate.connect(ensure_default_flags, sender=self, dispatch_uid="rollout.ensure_default_flags")
