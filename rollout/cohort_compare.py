"""Cohort vs control: do the bars this rollout switched do worse than the eligible bars not yet switched?

DESIGN.md section 4. For the current stage, two sides are compared over the same window (since the stage's
first step, at most ``ROLLOUT_COHORT_WINDOW_HOURS``):

- *switched*: bars this rollout switched to simplified mode and has not rolled back, each counted only from
  the moment it was switched;
- *not yet switched* (control): bars whose operatingMode is still NULL, the ones a later step would switch.

on three metrics, each judged by a one-sided exact two-proportion test (:mod:`rollout.analysis`):

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
from rollout.analysis import format_p, p_switched_worse
from rollout.models import CohortSnapshot, RolloutState, RolloutStep, Stage

logger = logging.getLogger(__name__)

HARM = "harm"
NO_HARM = "no_harm"
NOT_ENOUGH = "not_enough_data"
VERDICT_LABELS = {HARM: "harm", NO_HARM: "no evidence of harm", NOT_ENOUGH: "not enough data yet"}

COVERAGE, ERROR_RATE, SALES_RATE = "coverage", "error_rate", "sales_rate"
METRICS = (COVERAGE, ERROR_RATE, SALES_RATE)
METRIC_LABELS = {
    COVERAGE: "server_id coverage",
    ERROR_RATE: "error-level audit rate",
    SALES_RATE: "sales per bar per hour",
}
SHORT_NAMES = {COVERAGE: "coverage", ERROR_RATE: "error rate", SALES_RATE: "sales per bar per hour"}

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
class Side:
    """One side's figures over the window."""

    bars: int = 0
    bar_hours: float = 0.0
    sales: int = 0
    with_server: int = 0
    sales_before: int = 0
    errors: int = 0

    @property
    def coverage_pct(self) -> float | None:
        return self.with_server * 100.0 / self.sales if self.sales else None

    @property
    def error_rate_pct(self) -> float | None:
        operations = self.sales + self.errors
        return self.errors * 100.0 / operations if operations else None

    @property
    def sales_per_bar_hour(self) -> float | None:
        return self.sales / self.bar_hours if self.bar_hours else None

    @property
    def sales_per_bar_hour_before(self) -> float | None:
        return self.sales_before / self.bar_hours if self.bar_hours else None


@dataclass(frozen=True)
class MetricVerdict:
    metric: str
    verdict: str
    switched: str  # the switched side's figure, in words
    control: str
    switched_sample: str
    control_sample: str
    p_value: float | None
    summary: str

    @property
    def label(self) -> str:
        return METRIC_LABELS[self.metric]

    @property
    def verdict_label(self) -> str:
        return VERDICT_LABELS[self.verdict]


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


# --- Judging figures (pure: what the tests and the property tests drive) ---------------------------------------


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} %"


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _count(n: int, unit: str) -> str:
    return f"{n:,} {unit}"


def per_metric_alpha() -> float:
    """Each metric's share of the false-alarm rate (Bonferroni): the comparison as a whole stays within it."""
    return float(settings.ROLLOUT_COHORT_FALSE_ALARM_RATE) / len(METRICS)


def _min_sample(metric: str) -> int:
    return int(settings.ROLLOUT_COHORT_MIN_SAMPLE[metric])


def _min_effect(metric: str) -> float:
    return float(settings.ROLLOUT_COHORT_MIN_EFFECT[metric])


def _judge(metric: str, *, bad_s: int, n_s: int, bad_c: int, n_c: int, effect: float, unit: str, figures: str):
    """(verdict, p, summary) for one metric; ``effect`` is the size of the worsening in the setting's unit."""
    needed = _min_sample(metric)
    if n_s < needed or n_c < needed:
        short = [f"{side} {n:,} of {needed:,} {unit}" for side, n in (("switched", n_s), ("not switched", n_c))]
        return NOT_ENOUGH, None, f"not enough data yet ({', '.join(short)})"
    p = p_switched_worse(bad_switched=bad_s, n_switched=n_s, bad_control=bad_c, n_control=n_c)
    if p < per_metric_alpha() and effect >= _min_effect(metric):
        return HARM, p, f"harm: {SHORT_NAMES[metric]} {figures}, {format_p(p)}"
    return NO_HARM, p, f"no evidence of harm ({figures}, {format_p(p)})"


def judge_coverage(switched: Side, control: Side) -> MetricVerdict:
    s_cov, c_cov = switched.coverage_pct, control.coverage_pct
    figures = f"{_pct(s_cov)} vs {_pct(c_cov)}"
    effect = (c_cov - s_cov) if s_cov is not None and c_cov is not None else 0.0
    verdict, p, summary = _judge(
        COVERAGE,
        bad_s=switched.sales - switched.with_server,
        n_s=switched.sales,
        bad_c=control.sales - control.with_server,
        n_c=control.sales,
        effect=effect,
        unit="sales",
        figures=figures,
    )
    return MetricVerdict(
        COVERAGE, verdict, _pct(s_cov), _pct(c_cov), _count(switched.sales, "sales"), _count(control.sales, "sales"),
        p, summary,
    )  # fmt: skip


def judge_error_rate(switched: Side, control: Side) -> MetricVerdict:
    s_rate, c_rate = switched.error_rate_pct, control.error_rate_pct
    figures = f"{_pct(s_rate)} vs {_pct(c_rate)}"
    effect = (s_rate - c_rate) if s_rate is not None and c_rate is not None else 0.0
    verdict, p, summary = _judge(
        ERROR_RATE,
        bad_s=switched.errors,
        n_s=switched.sales + switched.errors,
        bad_c=control.errors,
        n_c=control.sales + control.errors,
        effect=effect,
        unit="sales and errors",
        figures=figures,
    )
    return MetricVerdict(
        ERROR_RATE, verdict, _pct(s_rate), _pct(c_rate),
        _count(switched.sales + switched.errors, "sales and errors"),
        _count(control.sales + control.errors, "sales and errors"), p, summary,
    )  # fmt: skip


def sales_drop_pct(switched: Side, control: Side) -> float:
    """How much more the switched side's sales fell (after vs before) than the control's, in % (negative: rose)."""
    a, b, c, d = switched.sales, switched.sales_before, control.sales, control.sales_before
    if b == 0 or c == 0:
        return float("-inf")  # the switched side rose from nothing, or the control sold nothing since
    return (1 - (a * d) / (b * c)) * 100.0


def judge_sales_rate(switched: Side, control: Side) -> MetricVerdict:
    def figure(side: Side) -> str:
        return f"{_rate(side.sales_per_bar_hour)} (before {_rate(side.sales_per_bar_hour_before)})"

    verdict, p, summary = _judge(
        SALES_RATE,
        bad_s=switched.sales_before,
        n_s=switched.sales + switched.sales_before,
        bad_c=control.sales_before,
        n_c=control.sales + control.sales_before,
        effect=sales_drop_pct(switched, control),
        unit="sales",
        figures=f"{figure(switched)} vs {figure(control)}",
    )
    return MetricVerdict(
        SALES_RATE, verdict, figure(switched), figure(control),
        _count(switched.sales + switched.sales_before, "sales") + f" over {switched.bars:,} bars",
        _count(control.sales + control.sales_before, "sales") + f" over {control.bars:,} bars", p, summary,
    )  # fmt: skip


def judge(switched: Side, control: Side) -> tuple[str, str, list[MetricVerdict]]:
    """(verdict, summary, per-metric verdicts) from both sides' figures."""
    metrics = [
        judge_coverage(switched, control),
        judge_error_rate(switched, control),
        judge_sales_rate(switched, control),
    ]
    harmed = [m for m in metrics if m.verdict == HARM]
    if harmed:
        return HARM, "; ".join(m.summary for m in harmed), metrics
    short = [m for m in metrics if m.verdict == NOT_ENOUGH]
    if short:
        return NOT_ENOUGH, "; ".join(f"{m.label}: {m.summary}" for m in short), metrics
    return NO_HARM, "no evidence of harm on " + ", ".join(m.label for m in metrics), metrics


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
