"""The Mode Switching rollout's models, each defined in the package of its noun and gathered here, where Django
looks for them (app label ``rollout``): flags, the rollout state and its steps, the timeline, deployment records,
runbook runs, backups and restores, code rollbacks and Alertmanager triggers."""

from rollout.backups.models import DatabaseBackup, DatabaseRestore
from rollout.events.models import Decision, EventKind, RolloutEvent, RolloutNotification
from rollout.flags.models import (
    DEFAULT_FLAGS,
    ENABLE_SWITCHING_MODE,
    SHOW_SWITCHING_MODE_UI,
    FeatureFlag,
    FeatureFlagGroupObjectPermission,
    FeatureFlagUserObjectPermission,
    FlagState,
    ensure_default_flags,
)
from rollout.killswitch.models import AlertTrigger
from rollout.records.models import DeploymentRecord, RecordStatus
from rollout.runbook.models import CodeRollback, RunbookRun, RunbookStep
from rollout.stages.models import (
    STAGE_ORDER,
    CohortSnapshot,
    RolloutBarChange,
    RolloutState,
    RolloutStep,
    Stage,
    next_stage,
    previous_stage,
)

__all__ = [
    "DEFAULT_FLAGS",
    "ENABLE_SWITCHING_MODE",
    "SHOW_SWITCHING_MODE_UI",
    "STAGE_ORDER",
    "AlertTrigger",
    "CodeRollback",
    "CohortSnapshot",
    "DatabaseBackup",
    "DatabaseRestore",
    "Decision",
    "DeploymentRecord",
    "EventKind",
    "FeatureFlag",
    "FeatureFlagGroupObjectPermission",
    "FeatureFlagUserObjectPermission",
    "FlagState",
    "RecordStatus",
    "RolloutBarChange",
    "RolloutEvent",
    "RolloutNotification",
    "RolloutState",
    "RolloutStep",
    "RunbookRun",
    "RunbookStep",
    "Stage",
    "ensure_default_flags",
    "next_stage",
    "previous_stage",
]
