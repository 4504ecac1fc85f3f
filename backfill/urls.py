"""Runbook step 6 and section 2.2: the backfill control, the migration log, the post-migration validation."""

from django.urls import path

from backfill import views

app_name = "backfill"

urlpatterns = [
    path("backfill/", views.backfill, name="backfill"),
    path("backfill/start/", views.backfill_start, name="backfill_start"),
    path("backfill/totals/", views.backfill_totals, name="backfill_totals"),
    path("backfill/runs/<int:run_id>/progress/", views.backfill_progress, name="backfill_progress"),
    path("backfill/runs/<int:run_id>/pause/", views.backfill_pause, name="backfill_pause"),
    path("backfill/runs/<int:run_id>/resume/", views.backfill_resume, name="backfill_resume"),
    path("logs/migration/", views.migration_log, name="migration_log"),
    path("logs/migration/summary/", views.migration_log_summary, name="migration_log_summary"),
    path("logs/migration/export.csv", views.migration_log_export, name="migration_log_export"),
    path("validation/", views.validation, name="validation"),
    path("validation/run/", views.validation_run, name="validation_run"),
    path("validation/<int:run_id>/", views.validation_detail, name="validation_detail"),
]
