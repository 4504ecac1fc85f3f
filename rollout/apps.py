from django.apps import AppConfig
from django.db.models.signals import post_migrate


class RolloutConfig(AppConfig):
    name = "rollout"
    verbose_name = "Rollout control"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from monitoring.signals import handle_critical_alerts_with, provide_expected_adoption, provide_incident_actions
        from rollout.events import selectors
        from rollout.killswitch import critical_alerts
        from rollout.models import ensure_default_flags
        from rollout.stages import services

        post_migrate.connect(ensure_default_flags, sender=self, dispatch_uid="rollout.ensure_default_flags")
        # Monitoring sits below the rollout and never imports it: the rollout plugs its answers in here.
        handle_critical_alerts_with(critical_alerts.handle_critical_alert)
        provide_expected_adoption(lambda: services.expected_adoption_pct())
        provide_incident_actions(selectors.incident_actions)
