from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AdminPanelConfig(AppConfig):
    name = "adminpanel"
    verbose_name = "BarTender Admin Panel"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from adminpanel.roles import ensure_role_groups

        # Groups are reference data: recreate them after every migrate (and after test flushes).
        post_migrate.connect(ensure_role_groups, sender=self, dispatch_uid="adminpanel.ensure_role_groups")
