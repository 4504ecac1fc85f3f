"""Monitoring: the health dashboard's partials, runs, alerts, phase windows, and the audit logs."""

from django.urls import path

from monitoring import views

app_name = "monitoring"

urlpatterns = [
    path("monitoring/", views.dashboard, name="dashboard"),
    path("monitoring/status/", views.status_partial, name="status"),
    path("monitoring/charts/", views.charts_partial, name="charts"),
    path("monitoring/phases/", views.phases_partial, name="phases"),
    path("monitoring/phases/start/", views.start_phase, name="start_phase"),
    path("monitoring/run/", views.run_now, name="run_now"),
    path("monitoring/runs/<int:run_id>/", views.run_detail, name="run"),
    path("monitoring/alerts/", views.alert_list, name="alerts"),
    path("monitoring/alerts/<int:alert_id>/acknowledge/", views.acknowledge, name="acknowledge"),
    path("logs/audit/", views.audit_log, name="audit_log"),
    path("logs/audit/chart/", views.audit_log_chart, name="audit_log_chart"),
    path("logs/audit/export.csv", views.audit_log_export, name="audit_log_export"),
]
