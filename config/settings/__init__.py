"""Settings for the BarTender Admin Panel (``DJANGO_SETTINGS_MODULE=config.settings``), one module per subject,
read in this order (a later one may read an earlier one's values, and adds to ``CELERY_BEAT_SCHEDULE``):

- ``base``: the project's own: core, database, serving, HTTPS and browser hardening, logins, notifications, Celery;
- ``backfill``: server name mappings and the backfill;
- ``monitoring``: health checks and alerts, Prometheus and Alertmanager, incidents and escalation;
- ``rollout``: the rollout, cohort vs control and the autopilot, the runbook cockpit.

Every deploy-time value comes from the environment with a safe local default.
"""

from config.settings.backfill import *  # noqa: F403
from config.settings.base import *  # noqa: F403
from config.settings.monitoring import *  # noqa: F403
from config.settings.rollout import *  # noqa: F403
