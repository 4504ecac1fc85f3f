from django.urls import path

from rollout import metrics
from rollout.backups import views as backup_views
from rollout.events import views as event_views
from rollout.flags import api, ofrep
from rollout.flags import views as flag_views
from rollout.killswitch import alert_hooks
from rollout.killswitch import views as kill_switch_views
from rollout.records import views as record_views
from rollout.runbook import checklist_views, phase2_views
from rollout.runbook import views as runbook_views
from rollout.stages import views as stage_views

app_name = "rollout"
urlpatterns = [
    # The client API (rollout/flags/api.py). Polled routes are answered before the URL resolver by
    # rollout.flags.api.ClientApiFastPath; they are routed here too, for reverse() and for the record.
    path("api/v1/flags", api.flags_api, name="flags_api"),
    path("api/v1/flags/snapshot", api.snapshot_api, name="flags_snapshot_api"),
    path("api/v1/flags/explain", api.explain_api, name="explain_api"),
    path("ofrep/v1/evaluate/flags", ofrep.evaluate_flags, name="ofrep_evaluate_flags"),
    path("ofrep/v1/evaluate/flags/<str:key>", ofrep.evaluate_flag, name="ofrep_evaluate_flag"),
    # Prometheus scrape target (issue 23), behind METRICS_TOKEN.
    path("metrics", metrics.metrics_view, name="metrics"),
    # Alertmanager webhook receiver (issue 23): opens an incident, may pull the kill switch
    # (rollout/killswitch/alert_hooks.py).
    path("hooks/alertmanager/<str:secret>", alert_hooks.alertmanager_hook, name="alertmanager_hook"),
    path("rollout/", stage_views.rollout_page, name="page"),
    path("rollout/flags/<str:key>/flip/", flag_views.flip_flag, name="flip"),
    path("rollout/flags/<str:key>/allow-list/", flag_views.allow_list, name="allow_list"),
    path("rollout/advance/", stage_views.advance, name="advance"),
    path("rollout/pause/", stage_views.pause, name="pause"),
    path("rollout/resume/", stage_views.resume, name="resume"),
    path("rollout/stage-rollback/", stage_views.stage_rollback, name="stage_rollback"),
    path("rollout/code-rollback/", runbook_views.code_rollback_view, name="code_rollback"),
    path("rollout/kill-switch/", kill_switch_views.kill_switch, name="kill_switch"),
    path("rollout/kill-switch/release/", kill_switch_views.release_kill_switch, name="release_kill_switch"),
    path("rollout/autopilot/on/", stage_views.autopilot_on, name="autopilot_on"),
    path("rollout/autopilot/off/", stage_views.autopilot_off, name="autopilot_off"),
    path("rollout/explain/", flag_views.explain_page, name="explain"),
    path("rollout/explain/bars/", flag_views.explain_matches, name="explain_matches"),
    path("rollout/history/", event_views.history, name="history"),
    path("rollout/history.csv", event_views.history_csv, name="history_csv"),
    path("rollout/records/", record_views.record_list, name="records"),
    path("rollout/records/new/", record_views.record_edit, name="record_new"),
    path("rollout/records/<int:pk>/", record_views.record_detail, name="record"),
    path("rollout/records/<int:pk>/edit/", record_views.record_edit, name="record_edit"),
    path("rollout/records/<int:pk>/sign/", record_views.record_sign, name="record_sign"),
    path("rollout/records/<int:pk>/record.md", record_views.record_markdown, name="record_markdown"),
    # The runbook cockpit (the home page's partial) and the steps the panel runs.
    path("cockpit/", runbook_views.cockpit_partial, name="cockpit"),
    path("cockpit/advance/", runbook_views.cockpit_advance, name="cockpit_advance"),
    path("cockpit/checklist/attest/", checklist_views.checklist_attest, name="checklist_attest"),
    path("cockpit/decision/", checklist_views.decision_record, name="decision_record"),
    path("cockpit/phase2/", phase2_views.phase2_page, name="phase2"),
    path("cockpit/phase2/apply/", phase2_views.phase2_apply, name="phase2_apply"),
    path("cockpit/phase2/rollback/", phase2_views.phase2_rollback, name="phase2_rollback"),
    path("runbook/ci/", runbook_views.runbook_ci, name="runbook_ci"),
    path("runbook/steps/<str:step>/run/", runbook_views.runbook_run_step, name="runbook_run_step"),
    path("runbook/steps/<str:step>/waive/", runbook_views.runbook_waive, name="runbook_waive"),
    path("runbook/runs/<int:pk>/", runbook_views.runbook_run, name="runbook_run"),
    path("rollout/backups/", backup_views.backup_list, name="backups"),
    path("rollout/restores/", backup_views.restores_page, name="restores"),
    path("rollout/restores/scratch/", backup_views.request_scratch, name="restore_scratch"),
    path("rollout/restores/option-c/", backup_views.request_real, name="restore_real"),
    path("rollout/restores/<int:pk>/", backup_views.restore_detail, name="restore"),
    path("rollout/restores/<int:pk>/approve/", backup_views.approve_real, name="restore_approve"),
    path("rollout/restores/<int:pk>/start/", backup_views.start_real, name="restore_start"),
    path("rollout/restores/<int:pk>/cancel/", backup_views.cancel_real, name="restore_cancel"),
]
