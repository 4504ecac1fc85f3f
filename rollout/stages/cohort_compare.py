"""Cohort vs control: do the bars this rollout switched do worse than the eligible bars not yet switched?

DESIGN.md section 4. For the current stage, two sides are compared over the same window (since the stage's
first step, at most ``ROLLOUT_COHORT_WINDOW_HOURS``):

- *switched*: bars this rollout switched to simplified mode and has not rolled back, each counted only from
  the moment it was switched;
- *not yet switched* (control): bars whose operatingMode is still NULL, the ones a later step would switch.

on three metrics, each judged by a one-sided exact two-proportion test (:mod:`rollout.stages.analysis`):

- server_id coverage: the share of sales without a server_id;
- error rate: error-level audit logs per operation (sales + errors), like the health check;
- sales per bar per hour: each side's sales in the window against its own sales over the same length of time
  just before it (so that quiet test bars are not "harmed" by being quiet: a drop is what counts).

A metric says "harm" when its p-value is below the false-alarm rate (``ROLLOUT_COHORT_FALSE_ALARM_RATE``, split
evenly across the metrics, so that identical cohorts show harm at most that often overall) *and* the difference
is at least ``ROLLOUT_COHORT_MIN_EFFECT``; "not enough data yet" while either side is below
``ROLLOUT_COHORT_MIN_SAMPLE``; otherwise "no evidence of harm". The comparison says "harm" when any metric does,
"no evidence of harm" when every metric does, and "not enough data yet" otherwise.
"""

import logging
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError

from adminpanel.sql_probe import time_limited_cursor
from rollout.models import CohortSnapshot, RolloutState, RolloutStep, Stage
from rollout.stages.cohort_verdicts import NO_HARM, NOT_ENOUGH, VERDICT_LABELS, MetricVerdict, Side, judge

logger = logging.getLogger(__name__)


SIDES_SQL = """
WITH treated AS (
  SELECT c.bar_id, max(st.created_at) AS switched_at
  FROM rollout_bar_changes c JOIN rollout_steps st ON st.id = c.step_id
  WHERE c.rolled_back_at IS NULL AND st.rolled_back_at IS NULL
  GROUP BY c.bar_id
), sides AS (
  SELECT b.id AS bar_id, true AS switched, greatest(t.switched_at, %(start)s) AS from_at
  FROM bars b JOIN treated t ON t.bar_id = b.id
  WHERE b.settings->>'operatingMode' = 'simplified' AND t.switched_at < %(now)s
  UNION ALL
  SELECT b.id, false, %(start)s FROM bars b WHERE b.settings->>'operatingMode' IS NULL
), windows AS (
  SELECT bar_id, switched, from_at, from_at - (%(now)s - from_at) AS before_at FROM sides
), sale_counts AS (
  SELECT w.bar_id,
         count(*) FILTER (WHERE s.created_at > w.from_at) AS sales,
         count(s.server_id) FILTER (WHERE s.created_at > w.from_at) AS with_server,
         count(*) FILTER (WHERE s.created_at <= w.from_at) AS before
  FROM windows w JOIN sales s ON s.bar_id = w.bar_id AND s.created_at > w.before_at AND s.created_at <= %(now)s
  GROUP BY w.bar_id
), error_counts AS (
  SELECT w.bar_id, count(*) AS errors
  FROM windows w JOIN audit_logs a ON a.bar_id = w.bar_id AND a.level = 'error'
   AND a.created_at > w.from_at AND a.created_at <= %(now)s
  GROUP BY w.bar_id
)
SELECT w.switched, count(*), coalesce(sum(extract(epoch FROM %(now)s - w.from_at)), 0) / 3600.0,
       coalesce(sum(sc.sales), 0), coalesce(sum(sc.with_server), 0), coalesce(sum(sc.before), 0),
       coalesce(sum(ec.errors), 0)
FROM windows w LEFT JOIN sale_counts sc ON sc.bar_id = w.bar_id LEFT JOIN error_counts ec ON ec.bar_id = w.bar_id
GROUP BY w.switched
"""


@dataclass(frozen=True)
class CohortComparison:
    verdict: str
    summary: str
    metrics: list[MetricVerdict]
    switched: Side
    control: Side
    window_start: datetime | None
    window_end: datetime
    stage: str
    computed_at: datetime | None = None  # when the figures were read (stored figures may be up to a minute old)

    @property
    def verdict_label(self) -> str:
        return VERDICT_LABELS[self.verdict]

    @property
    def applies(self) -> bool:
        """False before the first stage: there is no switched cohort to compare."""
        return self.window_start is not None

    def as_evidence(self) -> dict:
        """The figures behind the verdict, for the timeline and notifications (JSON)."""
        return {
            "verdict": self.verdict,
            "summary": self.summary,
            "stage": self.stage,
            "window_start": self.window_start.isoformat() if self.window_start else None,
            "window_end": self.window_end.isoformat(),
            "switched": asdict(self.switched),
            "control": asdict(self.control),
            "metrics": [
                {"metric": m.metric, "verdict": m.verdict, "summary": m.summary, "p_value": m.p_value}
                for m in self.metrics
            ],
        }


# --- Reading the figures ---------------------------------------------------------------------------------------


def stage_started_at(stage: str) -> datetime | None:
    """When the current stage's first live step ran (None at ``off``)."""
    if stage == Stage.OFF:
        return None
    step = RolloutStep.objects.filter(stage=stage, rolled_back_at__isnull=True).order_by("created_at", "id").first()
    return step.created_at if step else None


def read_sides(*, start: datetime, now: datetime) -> tuple[Side, Side]:
    """Both sides' figures from ``start`` to ``now``, in one statement under ROLLOUT_COHORT_STATEMENT_TIMEOUT_MS
    (JIT off: compiling the plan costs more than running it)."""
    with time_limited_cursor(settings.ROLLOUT_COHORT_STATEMENT_TIMEOUT_MS) as cursor:
        cursor.execute("SELECT set_config('jit', 'off', true)")
        cursor.execute(SIDES_SQL, {"start": start, "now": now})
        rows = {
            switched: Side(int(bars), float(hours), int(sales), int(with_server), int(before), int(errors))
            for switched, bars, hours, sales, with_server, before, errors in cursor.fetchall()
        }
    return rows.get(True, Side()), rows.get(False, Side())


def _nothing_to_compare(state: RolloutState, now: datetime) -> CohortComparison:
    return CohortComparison(
        NO_HARM, "the rollout has not switched any bar yet: nothing to compare", [], Side(), Side(), None, now,
        state.stage, now,
    )  # fmt: skip


def _judged(*, switched: Side, control: Side, start, now, stage, computed_at) -> CohortComparison:
    verdict, summary, metrics = judge(switched, control)
    return CohortComparison(verdict, summary, metrics, switched, control, start, now, stage, computed_at)


def compare_cohorts(*, now: datetime, state: RolloutState | None = None) -> CohortComparison:
    """The comparison for the current stage at ``now``, read from the database now (clocks are passed in, so
    tests drive them), and stored for the pages. A read that fails or times out is "not enough data yet" with
    the reason: the gate to a new stage stays closed, and nothing pauses on it."""
    state = state or RolloutState.objects.get_or_create(pk=RolloutState.SINGLETON_ID)[0]
    started = stage_started_at(state.stage)
    if started is None:
        return _nothing_to_compare(state, now)
    start = max(started, now - timedelta(hours=settings.ROLLOUT_COHORT_WINDOW_HOURS))
    began = time.perf_counter()
    try:
        switched, control = read_sides(start=start, now=now)
    except DatabaseError as exc:
        logger.warning("cohort comparison could not run: %s", exc)
        summary = (
            f"the comparison could not read its figures ({type(exc).__name__}); it is tried again at the next check"
        )
        return CohortComparison(NOT_ENOUGH, summary, [], Side(), Side(), start, now, state.stage, now)
    CohortSnapshot.objects.update_or_create(
        pk=CohortSnapshot.SINGLETON_ID,
        defaults={
            "stage": state.stage,
            "state_version": state.version,
            "window_start": start,
            "computed_at": now,
            "duration_ms": round((time.perf_counter() - began) * 1000),
            "switched": asdict(switched),
            "control": asdict(control),
        },
    )
    return _judged(switched=switched, control=control, start=start, now=now, stage=state.stage, computed_at=now)


def stored_comparison(*, now: datetime, state: RolloutState | None = None) -> CohortComparison:
    """What a page that must stay fast shows (the home page's cockpit): the stored figures of the current stage,
    however old (the comparison says when they were computed; the beat refreshes them every minute), never a
    fresh read of a day of sales. With none stored for the stage yet: "not enough data yet", said so."""
    state = state or RolloutState.objects.get_or_create(pk=RolloutState.SINGLETON_ID)[0]
    started = stage_started_at(state.stage)
    if started is None:
        return _nothing_to_compare(state, now)
    stored = CohortSnapshot.objects.filter(pk=CohortSnapshot.SINGLETON_ID, stage=state.stage).first()
    if stored is None:
        start = max(started, now - timedelta(hours=settings.ROLLOUT_COHORT_WINDOW_HOURS))
        summary = "the figures of this stage are not computed yet: the beat computes them within a minute"
        return CohortComparison(NOT_ENOUGH, summary, [], Side(), Side(), start, now, state.stage, now)
    return _judged(
        switched=Side(**stored.switched), control=Side(**stored.control), start=stored.window_start,
        now=stored.computed_at, stage=stored.stage, computed_at=stored.computed_at,
    )  # fmt: skip


def current_comparison(*, now: datetime, state: RolloutState | None = None, max_age: float | None = None):
    """The stored comparison when it is for this stage and state version and at most ``max_age`` seconds old
    (ROLLOUT_COHORT_MAX_AGE_SECONDS by default: the beat refreshes it every minute), else a fresh one. Pages and
    a person's advance read this; the autopilot reads fresh figures."""
    state = state or RolloutState.objects.get_or_create(pk=RolloutState.SINGLETON_ID)[0]
    max_age = settings.ROLLOUT_COHORT_MAX_AGE_SECONDS if max_age is None else max_age
    stored = CohortSnapshot.objects.filter(
        pk=CohortSnapshot.SINGLETON_ID,
        stage=state.stage,
        state_version=state.version,
        computed_at__lte=now,
        computed_at__gte=now - timedelta(seconds=max_age),
    ).first()
    if stored is None or max_age <= 0:
        return compare_cohorts(now=now, state=state)
    return _judged(
        switched=Side(**stored.switched), control=Side(**stored.control), start=stored.window_start,
        now=stored.computed_at, stage=stored.stage, computed_at=stored.computed_at,
    )  # fmt: skip
