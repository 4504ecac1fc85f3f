"""Issue 5: additions to health runs, results and alerts.

Reserved for that issue's schema changes (placeholders keep parallel work on one linear history)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("adminpanel", "0008_post_migration_validation"),
    ]

    operations = []
