"""Judging the cohort figures (pure: what the tests and the property tests drive): one verdict per metric and
the comparison's verdict, from each side's counts (:mod:`rollout.stages.analysis` for the tests)."""

from dataclasses import dataclass

from django.conf import settings

from rollout.stages.analysis import format_p, p_switched_worse

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
    """The server_id coverage verdict: sales without a server_id, switched against control."""
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
    """The error rate verdict: error-level audit logs per operation, switched against control."""
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
    """The sales rate verdict: each side's sales per bar per hour against its own rate just before."""

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
