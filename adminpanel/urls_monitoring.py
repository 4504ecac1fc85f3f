from django.urls import path

from adminpanel import views_monitoring as views

urlpatterns = [
    path("monitoring/status/", views.status_partial, name="monitoring-status"),
    path("monitoring/charts/", views.charts_partial, name="monitoring-charts"),
    path("monitoring/phases/", views.phases_partial, name="monitoring-phases"),
    path("monitoring/phases/start/", views.start_phase, name="monitoring-start-phase"),
    path("monitoring/run/", views.run_now, name="monitoring-run-now"),
    path("monitoring/runs/<int:run_id>/", views.run_detail, name="monitoring-run"),
    path("monitoring/alerts/", views.alert_list, name="monitoring-alerts"),
    path("monitoring/alerts/<int:alert_id>/acknowledge/", views.acknowledge, name="monitoring-acknowledge"),
]
