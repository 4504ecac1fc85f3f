"""The kill switch (rollback Option A): pulling and releasing it, what critical alerts and Alertmanager do to it."""
