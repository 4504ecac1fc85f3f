"""The rollout's stages: the state row, each step and the bars it changed, and the stored cohort comparisons."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from adminpanel.models import Bar


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
