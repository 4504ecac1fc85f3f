from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AdminPanelConfig(AppConfig):
    name = "adminpanel"
    verbose_name = "BarTender Admin Panel"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from adminpanel.api_auth import clear_token_cache
        from adminpanel.models import ApiClient
        from adminpanel.roles import ensure_role_groups

        # Groups are reference data: recreate them after every migrate (and after test flushes).
        post_migrate.connect(ensure_role_groups, sender=self, dispatch_uid="adminpanel.ensure_role_groups")
        # Cache invalidation only (STYLE.md): a revoked, rotated or re-scoped token changes in this process at once.
        post_save.connect(clear_token_cache, sender=ApiClient, dispatch_uid="adminpanel.api_token_cache.save")
        post_delete.connect(clear_token_cache, sender=ApiClient, dispatch_uid="adminpanel.api_token_cache.delete")
        m2m_changed.connect(
            clear_token_cache, sender=ApiClient.bars.through, dispatch_uid="adminpanel.api_token_cache.bars"
        )
        # Every other process forgets at once too: LISTEN/NOTIFY (adminpanel.pg_notify, migration 0012).
