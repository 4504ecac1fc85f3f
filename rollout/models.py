"""The Mode Switching rollout: flags, the rollout state, the bars each step changed, the timeline, records."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from adminpanel.models import Bar

ENABLE_SWITCHING_MODE = "ENABLE_SWITCHING_MODE"
SHOW_SWITCHING_MODE_UI = "SHOW_SWITCHING_MODE_UI"
DEFAULT_FLAGS = {
    ENABLE_SWITCHING_MODE: "Server resolution and server_id on new sales.",
    SHOW_SWITCHING_MODE_UI: "The Mode Switching screens in the BarTender app.",
}


class FlagState(models.TextChoices):
    """What a flag's two switches mean for the bars (DESIGN.md section 4)."""

    OFF = "off", "Off for every bar"
    ALLOW_LIST = "allow_list", "On for allow-listed bars only"
    GLOBAL = "global", "On for every bar"


class FeatureFlag(models.Model):
    key = models.CharField(max_length=64, unique=True)
    description = models.TextField(blank=True)
    enabled_globally = models.BooleanField(default=False)
    # Runbook Option A: the kill switch turns the flag off for every bar but keeps the allow-list, so that
    # releasing it restores the rollout exactly as it was.
    kill_switch_engaged = models.BooleanField(default=False)
    allowed_bars = models.ManyToManyField(
        Bar, blank=True, related_name="feature_flags", db_table="feature_flag_bars", db_constraint=False
    )
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "feature_flags"
        ordering = ["key"]
        permissions = [
            ("flip_flag", "Can flip this feature flag"),
            ("trigger_rollback", "Can pull the kill switch (runbook rollback option A)"),
            ("override_gate", "Can override a closed rollout gate"),
            ("apply_migration", "Can apply and roll back the runbook's migrations (Phase 2)"),
        ]

    def __str__(self):
        return self.key

    @property
    def state(self) -> str:
        if self.kill_switch_engaged:
            return FlagState.OFF
        return FlagState.GLOBAL if self.enabled_globally else FlagState.ALLOW_LIST

    @property
    def state_label(self) -> str:
        return FlagState(self.state).label

    def plain_state(self, allow_listed: int) -> tuple[str, str]:
        """(css class, words) a person reads: "On for every bar", "On for 12 allow-listed bars", "Off — 0 bars",
        "Off — kill switch engaged" (Unleash/LaunchDarkly style: a flag is plainly on or off)."""
        if self.kill_switch_engaged:
            return "killed", "Off — kill switch engaged"
        if self.enabled_globally:
            return "global", "On for every bar"
        if allow_listed:
            return "allow_list", f"On for {allow_listed:,} allow-listed bar{'s' if allow_listed != 1 else ''}"
        return "off", "Off — 0 bars"


class FeatureFlagUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(FeatureFlag, on_delete=models.CASCADE)


class FeatureFlagGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(FeatureFlag, on_delete=models.CASCADE)


class Stage(models.TextChoices):
    OFF = "off", "off"
    INTERNAL = "4a", "4a internal"
    HALF = "4b", "4b 50%"
    ALL = "4c", "4c 100%"


STAGE_ORDER = [Stage.OFF, Stage.INTERNAL, Stage.HALF, Stage.ALL]


def next_stage(stage: str) -> str | None:
    index = STAGE_ORDER.index(Stage(stage))
    return STAGE_ORDER[index + 1] if index + 1 < len(STAGE_ORDER) else None


def previous_stage(stage: str) -> str | None:
    index = STAGE_ORDER.index(Stage(stage))
    return STAGE_ORDER[index - 1] if index > 0 else None


class RolloutState(models.Model):
    """The one row every stage change locks (SELECT … FOR UPDATE) and whose version makes advancing idempotent."""

    SINGLETON_ID = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_ID)
    stage = models.CharField(max_length=8, choices=Stage.choices, default=Stage.OFF)
    paused = models.BooleanField(default=False)
    soak_started_at = models.DateTimeField(null=True, blank=True, help_text="Last step of the current stage.")
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(default=timezone.now)
    # The autopilot (issue 13), opt-in: it advances in `autopilot_batch_size` batches (empty: a whole stage per
    # step) whenever every gate passes, on behalf of the product owner who turned it on and only while they may.
    autopilot_enabled = models.BooleanField(default=False)
    autopilot_batch_size = models.PositiveIntegerField(null=True, blank=True)
    autopilot_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    autopilot_since = models.DateTimeField(null=True, blank=True)
    # What the last tick decided, in words, and when: ticks write these without bumping `version`, so a page
    # showing an advance form is not made stale every minute.
    autopilot_last_tick_at = models.DateTimeField(null=True, blank=True)
    autopilot_note = models.CharField(max_length=1000, blank=True, default="")

    class Meta:
        db_table = "rollout_state"
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="rollout_state_singleton"),
            models.CheckConstraint(condition=Q(stage__in=Stage.values), name="rollout_state_stage_valid"),
        ]

    def __str__(self):
        return f"rollout at {self.stage} (v{self.version})"


class RolloutStep(models.Model):
    """One advance: the stage it belongs to and how many bars it switched (a stage may take several batches)."""

    stage = models.CharField(max_length=8, choices=Stage.choices)
    batch_size = models.PositiveIntegerField(null=True, blank=True)
    bars_changed = models.PositiveIntegerField(default=0)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    rolled_back_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "rollout_steps"
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=~Q(stage="off"), name="rollout_step_stage_not_off")]

    def __str__(self):
        return f"step {self.pk} ({self.stage}, {self.bars_changed} bars)"


class RolloutBarChange(models.Model):
    """A bar this rollout switched from NULL to simplified, and the allow-list entries it added for it.

    Stage rollback restores exactly these bars (and removes exactly these allow-list entries), nothing else.
    """

    step = models.ForeignKey(RolloutStep, on_delete=models.CASCADE, related_name="changes")
    bar = models.ForeignKey(Bar, on_delete=models.CASCADE, db_constraint=False, related_name="+")
    flags_added = models.JSONField(default=list, help_text="Ids of the flags whose allow-list this step added to.")
    rolled_back_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "rollout_bar_changes"
        constraints = [models.UniqueConstraint(fields=["step", "bar"], name="rollout_bar_change_unique")]
        indexes = [models.Index(fields=["bar"], name="rollout_bar_change_bar_idx")]

    def __str__(self):
        return f"bar {self.bar_id} in step {self.step_id}"


class EventKind(models.TextChoices):
    FLAG_FLIP = "flag_flip", "Flag flipped"
    ALLOW_LIST = "allow_list", "Allow-list changed"
    STAGE_ADVANCE = "stage_advance", "Stage advanced"
    STAGE_PAUSE = "stage_pause", "Rollout paused"
    STAGE_RESUME = "stage_resume", "Rollout resumed"
    GATE_OVERRIDE = "gate_override", "Gate overridden"
    STAGE_ROLLBACK = "stage_rollback", "Stage rolled back"
    KILL_SWITCH = "kill_switch", "Kill switch engaged"
    KILL_SWITCH_RELEASE = "kill_switch_release", "Kill switch released"
    AUTO_ROLLBACK = "auto_rollback", "Automatic rollback"
    RECORD = "record", "Deployment record"
    AUTOPILOT_ON = "autopilot_on", "Autopilot turned on"
    AUTOPILOT_OFF = "autopilot_off", "Autopilot turned off"
    RUNBOOK = "runbook", "Runbook step"
    DATABASE_RESTORE = "database_restore", "Database restored (Option C)"
    CODE_ROLLBACK = "code_rollback", "Code rolled back (Option B)"
    CHECKLIST_ATTEST = "checklist_attest", "4a checklist item attested"
    DECISION = "decision", "Decision recorded"


class Decision(models.TextChoices):
    """What the people running the deployment decided at a checkpoint (runbook: proceed, roll back or abort)."""

    PROCEED = "proceed", "Proceed"
    ROLLBACK = "rollback", "Roll back"
    ABORT = "abort", "Abort the deployment"


class RolloutEvent(models.Model):
    """The rollout's timeline. Append-only: a database trigger refuses UPDATE and DELETE (migration 0002).

    Its references carry no database constraint (and never cascade), so deleting a user, alert or record can
    never need to rewrite history; `actor_name` keeps who it was.
    """

    kind = models.CharField(max_length=24, choices=EventKind.choices)
    created_at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="+"
    )
    actor_name = models.CharField(max_length=150)
    flag = models.ForeignKey(
        FeatureFlag, on_delete=models.DO_NOTHING, db_constraint=False, null=True, blank=True, related_name="+"
    )
    stage_before = models.CharField(max_length=8, blank=True, default="")
    stage_after = models.CharField(max_length=8, blank=True, default="")
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True, default="")
    is_override = models.BooleanField(default=False)
    alert = models.ForeignKey(
        "monitoring.Alert", on_delete=models.DO_NOTHING, db_constraint=False, null=True, blank=True, related_name="+"
    )
    step = models.ForeignKey(
        RolloutStep, on_delete=models.DO_NOTHING, db_constraint=False, null=True, blank=True, related_name="+"
    )
    record = models.ForeignKey(
        "DeploymentRecord", on_delete=models.DO_NOTHING, db_constraint=False, null=True, blank=True, related_name="+"
    )

    class Meta:
        db_table = "rollout_events"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["created_at"], name="rollout_events_created_idx"),
            models.Index(fields=["kind", "created_at"], name="rollout_events_kind_idx"),
        ]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_name} {self.kind}"


class RolloutNotification(models.Model):
    """Outbox of the rollout's automatic steps (autopilot on, off, advance, pause): each is sent by mail and webhook
    like an alert (monitoring.notifications), retried at the next autopilot tick until delivered or out of
    attempts, so a failing mail server never loses one and never blocks a step."""

    event = models.OneToOneField(RolloutEvent, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    notified_at = models.DateTimeField(null=True, blank=True)
    delivered_to = models.JSONField(default=list, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        db_table = "rollout_notifications"
        ordering = ["id"]
        indexes = [models.Index(fields=["id"], condition=Q(notified_at__isnull=True), name="rollout_notify_pending")]

    def __str__(self):
        return f"notification of rollout event {self.event_id}"


class CohortSnapshot(models.Model):
    """The latest cohort comparison's figures (one row): the beat refreshes it every minute, so that pages and
    gates read it instead of scanning a day of sales each time; the verdict is judged again from these figures
    on every read (judging is cheap and follows the settings). Valid for one stage and one state version."""

    SINGLETON_ID = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_ID)
    stage = models.CharField(max_length=8, choices=Stage.choices)
    state_version = models.PositiveIntegerField()
    window_start = models.DateTimeField(null=True, blank=True)
    computed_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    switched = models.JSONField(default=dict)
    control = models.JSONField(default=dict)

    class Meta:
        db_table = "rollout_cohort_snapshot"
        constraints = [models.CheckConstraint(condition=Q(id=1), name="rollout_cohort_snapshot_singleton")]

    def __str__(self):
        return f"cohort figures of stage {self.stage} at {self.computed_at:%Y-%m-%d %H:%M:%S}"


class RecordStatus(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    SUCCESSFUL = "successful", "✓ Successful"
    ROLLED_BACK = "rolled_back", "✗ Rolled back"


class DeploymentRecord(models.Model):
    """The runbook's "Deployment Record Template" as a row; timeline and monitoring fill themselves."""

    date = models.DateField(default=timezone.localdate)
    deployer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # Pre-deployment verification (runbook checklist); None = not checked yet.
    backup_location = models.CharField(max_length=300, blank=True, default="")
    tests_passing = models.BooleanField(null=True, blank=True)
    flags_off = models.BooleanField(null=True, blank=True)
    code_builds = models.BooleanField(null=True, blank=True)
    # The window whose audit timeline and health runs the record shows (monitoring: its first 24 h).
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    issues_encountered = models.TextField(blank=True, default="")
    status = models.CharField(max_length=16, choices=RecordStatus.choices, default=RecordStatus.IN_PROGRESS)
    deployer_signed_at = models.DateTimeField(null=True, blank=True)
    reviewer_signed_at = models.DateTimeField(null=True, blank=True)
    # Timeline and monitoring as they stood when the second signature landed: a signed record never changes.
    snapshot = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # The Phase 1 backup the record refers to (filled from the cockpit, never typed).
    backup = models.ForeignKey("DatabaseBackup", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        db_table = "deployment_records"
        ordering = ["-date", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(deployer=F("reviewer")), name="deployment_record_two_people"),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="deployment_record_window_ordered",
            ),
        ]

    def __str__(self):
        return f"Mode Switching deployment of {self.date}"

    @property
    def is_signed(self) -> bool:
        return bool(self.deployer_signed_at and self.reviewer_signed_at)


class RunbookStep(models.TextChoices):
    """The runbook steps the panel runs (or records) itself: Phase 1 and Phase 3's code deployment check."""

    TEST_SUITE = "test_suite", "Test suite and build (CI run)"
    LOAD_TEST = "load_test", "RLS load test"
    ROLLBACK_REHEARSAL = "rollback_rehearsal", "Rollback rehearsal"
    BACKUP = "backup", "Database backup"
    FLAGS_OFF = "flags_off", "Feature flags verified off"
    DEPLOY_CHECK = "deploy_check", "Code deployment verified"


class RunbookRun(models.Model):
    """One run of a runbook step (or a waiver of it): who asked, its progress while it runs, its evidence.

    A step's state on the cockpit is its latest run. At most one run per step is queued or running at a time.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed"
        WAIVED = "waived", "Waived"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    step = models.CharField(max_length=24, choices=RunbookStep.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    requested_by_name = models.CharField(max_length=150, default="system")
    via = models.CharField(max_length=16, default="panel", help_text="panel, command or demo")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Written while the run works: the cockpit shows them, and a run whose heartbeat stops is stalled.
    progress = models.PositiveSmallIntegerField(default=0)
    progress_note = models.CharField(max_length=300, blank=True, default="")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    summary = models.CharField(max_length=500, blank=True, default="")
    error = models.TextField(blank=True, default="")
    reason = models.TextField(blank=True, default="", help_text="Why it was waived, or the attestation's note.")
    task_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        db_table = "runbook_runs"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["step"], condition=Q(status__in=["queued", "running"]), name="runbook_run_one_active_per_step"
            ),
            models.CheckConstraint(condition=Q(progress__lte=100), name="runbook_run_progress_pct"),
            models.CheckConstraint(condition=~Q(status="waived") | ~Q(reason=""), name="runbook_run_waiver_has_reason"),
        ]
        indexes = [models.Index(fields=["step", "-created_at"], name="runbook_run_step_idx")]

    def __str__(self):
        return f"{self.get_step_display()} run {self.pk} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE


class DatabaseBackup(models.Model):
    """A `pg_dump --format=custom` archive and what reading it back with `pg_restore --list` found."""

    run = models.ForeignKey(RunbookRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="backups")
    path = models.CharField(max_length=500)
    created_at = models.DateTimeField(default=timezone.now)
    created_by_name = models.CharField(max_length=150, default="system")
    size_bytes = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True, default="")
    duration_ms = models.PositiveIntegerField(default=0)
    server_version = models.CharField(max_length=100, blank=True, default="")
    pg_dump_version = models.CharField(max_length=100, blank=True, default="")
    database = models.CharField(max_length=200, blank=True, default="")
    # Read back with pg_restore --list: the archive's table of contents.
    verified = models.BooleanField(default=False)
    toc_entries = models.PositiveIntegerField(default=0)
    tables_with_data = models.JSONField(default=list, blank=True)
    verify_error = models.TextField(blank=True, default="")
    # Each BarTender table's row count and an order-free checksum of its rows, read in the very snapshot pg_dump
    # dumped (pg_dump --snapshot): what a restore of this archive must give back, table by table.
    checksums = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "database_backups"
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.file_name

    @property
    def file_name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


class DatabaseRestore(models.Model):
    """A restore of a Phase 1 backup (DESIGN §1): the dry run of Phase 2 and the restore rehearsal both restore it
    into a scratch database; the real one (rollback Option C) restores BarTender's schemas in place, after the kill
    switch, inside a declared maintenance window and with a second person's approval, and keeps the panel's own
    schema (its history) as it is."""

    class Kind(models.TextChoices):
        DRY_RUN = "dry_run", "Phase 2 dry run"
        REHEARSAL = "rehearsal", "Restore rehearsal"
        REAL = "real", "Database rollback (Option C)"

    class Status(models.TextChoices):
        REQUESTED = "requested", "Waiting for a second person's approval"
        APPROVED = "approved", "Approved"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    backup = models.ForeignKey(DatabaseBackup, on_delete=models.PROTECT, related_name="restores")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    requested_by_name = models.CharField(max_length=150, default="system")
    requested_at = models.DateTimeField(default=timezone.now)
    reason = models.TextField(blank=True, default="")
    # Option C only: the declared maintenance window and the second person.
    window_starts_at = models.DateTimeField(null=True, blank=True)
    window_ends_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    approved_by_name = models.CharField(max_length=150, blank=True, default="")
    approved_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    database = models.CharField(max_length=200, blank=True, default="", help_text="Where it was restored.")
    restore_ms = models.PositiveIntegerField(default=0)
    progress_note = models.CharField(max_length=300, blank=True, default="")
    # [{table, expected_rows, found_rows, match}] and, for a dry run or Option C, each migration step it applied.
    tables = models.JSONField(default=list, blank=True)
    steps = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        db_table = "database_restores"
        ordering = ["-requested_at", "-id"]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk} of {self.backup}"

    @property
    def mismatches(self) -> list[dict]:
        return [row for row in self.tables if not row.get("match")]


class CodeRollback(models.Model):
    """Rollback Option B run by the panel: the CI/CD hook (BARTENDER_DEPLOY_HOOK_URL) asked to deploy an earlier
    build, then the health URL polled until it serves that build, as Phase 3 does."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Calling the hook, then waiting for the build"
        DONE = "done", "The health URL serves the build"
        HOOK_FAILED = "hook_failed", "The deploy hook refused or did not answer"
        TIMED_OUT = "timed_out", "The build never showed on the health URL"
        UNVERIFIED = "unverified", "Hook called; no health URL to verify it"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    build = models.CharField(max_length=100)
    reason = models.TextField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    requested_by_name = models.CharField(max_length=150, default="system")
    requested_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    hook_status = models.PositiveSmallIntegerField(null=True, blank=True, help_text="The hook's HTTP status.")
    tries = models.PositiveIntegerField(default=0, help_text="Polls of the health URL.")
    attempts = models.JSONField(default=list, blank=True)
    summary = models.TextField(blank=True, default="")

    class Meta:
        db_table = "code_rollbacks"
        ordering = ["-requested_at", "-id"]

    def __str__(self):
        return f"code rollback #{self.pk} to {self.build}"


def ensure_default_flags(apps=None, **kwargs):
    """Both runbook flags exist and start OFF (runbook 1.3); the rollout state row exists (at stage off).

    As a post_migrate receiver it uses the migrated state's models (`apps`): after a partial or reversed
    migration the newest columns may not exist yet.
    """
    from django.apps import apps as global_apps

    apps = apps or global_apps
    try:
        flag_model = apps.get_model("rollout", "FeatureFlag")
    except LookupError:
        return
    for key, description in DEFAULT_FLAGS.items():
        flag_model.objects.get_or_create(key=key, defaults={"description": description})
    try:
        state_model = apps.get_model("rollout", "RolloutState")
    except LookupError:
        return
    state_model.objects.get_or_create(pk=RolloutState.SINGLETON_ID)


class AlertTrigger(models.Model):
    """An Alertmanager webhook receiver (issue 23; LaunchDarkly calls it a flag trigger): `/hooks/alertmanager/
    <secret>` opens an incident for a firing alert group and, when the trigger may and an alert is labelled
    ``bartender_action="kill_switch"``, pulls the kill switch. Created and revoked by an admin (Django admin,
    audited); the secret is shown once and kept only as its SHA-256 (rollout/alert_hooks.py)."""

    name = models.CharField(max_length=100, unique=True, help_text="Who sends it, e.g. “alertmanager-prod”.")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    may_pull_kill_switch = models.BooleanField(
        default=False, help_text='Pull the kill switch for alerts labelled bartender_action="kill_switch".'
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_called_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The rate limit's fixed one-minute window (ALERT_HOOK_CALLS_PER_MINUTE), counted under the row's lock.
    window_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    window_calls = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        db_table = "rollout_alert_triggers"
        ordering = ["name"]

    def __str__(self):
        return f"alert trigger {self.name}{' (revoked)' if self.revoked_at else ''}"
