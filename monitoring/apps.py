from django.apps import AppConfig
from django.db.models.signals import post_migrate


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Monitoring and alerting"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from monitoring.models.incidents import ensure_contact_tiers

        # The runbook's three escalation tiers are reference data: recreated after migrate and test flushes.
        post_migrate.connect(ensure_contact_tiers, sender=self, dispatch_uid="monitoring.ensure_contact_tiers")
