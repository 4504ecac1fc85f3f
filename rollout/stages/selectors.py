"""Stage reads: what is left in a stage, the cohorts' figures and the rollout page's overview."""

from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.models import Count, Min
from django.utils import timezone

from monitoring.enums import CheckStatus
from monitoring.health import selectors as monitoring_selectors
from rollout.killswitch.selectors import kill_switch_engaged
from rollout.models import STAGE_ORDER, RolloutState, RolloutStep, Stage, next_stage
from rollout.stages.cohort_compare import CohortComparison, current_comparison
from rollout.stages.cohorts import bucket_sql, cohort_sql
from rollout.stages.gates import evaluate_gates


# --- The rollout page -----------------------------------------------------------------------------
def remaining_in_stage(stage: str) -> int:
    """Bars of the stage's cohort still in operatingMode NULL (what the stage's next batch would switch)."""
    if stage == Stage.OFF:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM bars WHERE {cohort_sql(stage)} AND bars.settings->>'operatingMode' IS NULL"  # noqa: S608
        )
        return cursor.fetchone()[0]


@dataclass(frozen=True)
class StageRow:
    stage: str
    label: str
    cohort: int
    simplified: int
    switched_by_rollout: int
    is_current: bool
    is_done: bool
    health: str
    health_runs: int


COHORT_FIGURES_SQL = """
SELECT count(*) FILTER (WHERE is_internal),
       count(*) FILTER (WHERE is_internal AND mode = 'simplified'),
       count(*) FILTER (WHERE bucket < %(half)s),
       count(*) FILTER (WHERE bucket < %(half)s AND mode = 'simplified'),
       count(*),
       count(*) FILTER (WHERE mode = 'simplified'),
       count(*) FILTER (WHERE mode = 'full'),
       count(*) FILTER (WHERE mode IS NULL)
FROM (SELECT is_internal, settings->>'operatingMode' AS mode, {bucket} AS bucket FROM bars) b
"""


def cohort_figures() -> dict:
    """Bars per cohort and how many of them are in simplified mode, in one scan of `bars`."""
    with connection.cursor() as cursor:
        cursor.execute(COHORT_FIGURES_SQL.format(bucket=bucket_sql()), {"half": settings.ROLLOUT_HALF_PERCENT})
        row = cursor.fetchone()
    return {
        Stage.INTERNAL: (row[0], row[1]),
        Stage.HALF: (row[2], row[3]),
        Stage.ALL: (row[4], row[5]),
        "full": row[6],
        "unset": row[7],
    }


def _worst(statuses) -> str:
    statuses = list(statuses)
    return CheckStatus.worst(statuses, default="")


def stage_rows(state: RolloutState, figures: dict | None = None) -> list[StageRow]:
    """One row per stage: its cohort, bars switched, and the worst health run status while it was live."""
    figures = figures or cohort_figures()
    live = dict(
        RolloutStep.objects.filter(rolled_back_at__isnull=True, changes__rolled_back_at__isnull=True)
        .values_list("stage")
        .annotate(bars=Count("changes"))
        .values_list("stage", "bars")
    )
    starts = dict(
        RolloutStep.objects.filter(rolled_back_at__isnull=True)
        .values_list("stage")
        .annotate(first=Min("created_at"))
        .values_list("stage", "first")
    )
    current_index = STAGE_ORDER.index(Stage(state.stage))
    rows = []
    for index, stage in enumerate(STAGE_ORDER[1:], start=1):
        cohort, simplified = figures[stage]
        health, runs = "", 0
        if index <= current_index and stage in starts:
            following = next_stage(stage)
            end = starts.get(following) if following and index < current_index else None
            statuses = monitoring_selectors.run_statuses_between(starts[stage], end)
            health, runs = _worst(statuses), len(statuses)
        rows.append(
            StageRow(
                stage=stage,
                label=Stage(stage).label,
                cohort=cohort,
                simplified=simplified,
                switched_by_rollout=live.get(stage, 0),
                is_current=index == current_index,
                is_done=index < current_index,
                health=health,
                health_runs=runs,
            )
        )
    return rows


@dataclass(frozen=True)
class RolloutOverview:
    state: RolloutState
    stages: list[StageRow]
    gates: list
    entering_next_stage: bool
    next_target: str | None
    remaining_in_stage: int
    latest_run: object | None  # monitoring's latest finished health run
    critical_alerts: list
    kill_switch_engaged: bool
    figures: dict
    comparison: CohortComparison


def rollout_overview(*, now=None) -> RolloutOverview:
    """Everything the rollout page shows about stages and gates, in a bounded number of queries."""
    state, _ = RolloutState.objects.get_or_create(pk=RolloutState.SINGLETON_ID)
    remaining = remaining_in_stage(state.stage)
    target = state.stage if remaining else next_stage(state.stage)
    entering = target is not None and target != state.stage
    now = now or timezone.now()
    comparison = current_comparison(now=now, state=state)
    figures = cohort_figures()  # one scan of `bars` for the stage rows and the totals
    return RolloutOverview(
        state=state,
        stages=stage_rows(state, figures),
        gates=evaluate_gates(state=state, now=now, entering_next_stage=entering, comparison=comparison)
        if target
        else [],
        entering_next_stage=entering,
        next_target=target,
        remaining_in_stage=remaining,
        latest_run=monitoring_selectors.latest_finished_run(),
        critical_alerts=monitoring_selectors.open_critical_alerts(limit=20),
        kill_switch_engaged=kill_switch_engaged(),
        figures=figures,
        comparison=comparison,
    )
