"""Migration-log, audit-log, post-migration validation and backfill-control pages (issue 4)."""

from django.urls import path

from adminpanel import views_backfill, views_logs

app_name = "logs"

urlpatterns = [
    path("logs/migration/", views_logs.migration_log, name="migration_log"),
    path("logs/migration/summary/", views_logs.migration_log_summary, name="migration_log_summary"),
    path("logs/migration/export.csv", views_logs.migration_log_export, name="migration_log_export"),
    path("logs/audit/", views_logs.audit_log, name="audit_log"),
    path("logs/audit/chart/", views_logs.audit_log_chart, name="audit_log_chart"),
    path("logs/audit/export.csv", views_logs.audit_log_export, name="audit_log_export"),
    path("validation/", views_logs.validation, name="validation"),
    path("validation/run/", views_logs.validation_run, name="validation_run"),
    path("validation/<int:run_id>/", views_logs.validation_detail, name="validation_detail"),
    path("backfill/", views_backfill.backfill, name="backfill"),
    path("backfill/start/", views_backfill.backfill_start, name="backfill_start"),
    path("backfill/runs/<int:run_id>/progress/", views_backfill.backfill_progress, name="backfill_progress"),
    path("backfill/runs/<int:run_id>/pause/", views_backfill.backfill_pause, name="backfill_pause"),
    path("backfill/runs/<int:run_id>/resume/", views_backfill.backfill_resume, name="backfill_resume"),
]
