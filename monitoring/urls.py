"""Monitoring: the health dashboard's partials, runs, alerts, phase windows, the audit logs, and incidents."""

from django.urls import path

from monitoring.audit import views as audit_views
from monitoring.health import views
from monitoring.incidents import views as incident_views

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
    path("runbook/", views.runbook, name="runbook"),
    path("monitoring/alerts/<int:alert_id>/acknowledge/", views.acknowledge, name="acknowledge"),
    path("logs/audit/", audit_views.audit_log, name="audit_log"),
    path("logs/audit/chart/", audit_views.audit_log_chart, name="audit_log_chart"),
    path("logs/audit/export.csv", audit_views.audit_log_export, name="audit_log_export"),
    # Incidents and escalation (DESIGN.md section 4c).
    path("incidents/", incident_views.incident_list, name="incidents"),
    path("incidents/new/", incident_views.incident_new, name="incident_new"),
    path("incidents/contacts/", incident_views.contact_chain, name="contacts"),
    path("incidents/root-cause/", incident_views.root_cause_page, name="root_cause"),
    path("incidents/root-cause/<str:kind>/", incident_views.root_cause_rows, name="root_cause_rows"),
    path("incidents/root-cause/<str:kind>.csv", incident_views.root_cause_csv, name="root_cause_csv"),
    path("incidents/<int:pk>/", incident_views.incident_detail, name="incident"),
    path("incidents/<int:pk>/live/", incident_views.incident_live, name="incident_live"),
    path("incidents/<int:pk>/acknowledge/", incident_views.incident_acknowledge, name="incident_acknowledge"),
    path("incidents/<int:pk>/update/", incident_views.incident_update, name="incident_update"),
    path("incidents/<int:pk>/send/", incident_views.incident_send, name="incident_send"),
    path("incidents/<int:pk>/customer-notice/", incident_views.incident_outreach_view,
         {"kind": "customer_notice"}, name="incident_customer_notice"),
    path("incidents/<int:pk>/status-page/", incident_views.incident_outreach_view,
         {"kind": "status_page"}, name="incident_status_page"),  # fmt: skip
    path(
        "incidents/<int:pk>/communication.txt",
        incident_views.incident_communication,
        {"fmt": "txt"},
        name="incident_text",
    ),
    path(
        "incidents/<int:pk>/communication.md",
        incident_views.incident_communication,
        {"fmt": "md"},
        name="incident_markdown",
    ),
    path("incidents/<int:pk>/root-cause/", incident_views.root_cause_page, name="incident_root_cause"),
    path(
        "incidents/<int:pk>/root-cause/<str:kind>/",
        incident_views.root_cause_rows,
        name="incident_root_cause_rows",
    ),
    path(
        "incidents/<int:pk>/root-cause/<str:kind>.csv",
        incident_views.root_cause_csv,
        name="incident_root_cause_csv",
    ),
]
