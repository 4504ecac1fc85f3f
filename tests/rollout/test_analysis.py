"""The cohort statistics (rollout/analysis.py, rollout/cohort_compare.judge): exact against brute force, and
property tests (hypothesis) that identical cohorts show harm no more often than the configured false-alarm rate."""

import math
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollout.stages import cohort_verdicts
from rollout.stages.analysis import format_p, hypergeometric_upper_tail, p_switched_worse
from rollout.stages.cohort_verdicts import HARM, NO_HARM, NOT_ENOUGH, Side, judge

# Deterministic: the same examples on every run, so a statistical property cannot fail by chance in CI.
PROPERTY = settings(derandomize=True, deadline=None, max_examples=60)
# Simulations are slower per example; the pytest `settings` fixture is reset by hand for each example.
SIMULATION = settings(
    derandomize=True, deadline=None, max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def brute_upper_tail(k, population, successes, draws):
    total = math.comb(population, draws)
    top = min(draws, successes)
    return (
        sum(math.comb(successes, x) * math.comb(population - successes, draws - x) for x in range(max(k, 0), top + 1))
        / total
    )


@st.composite
def hypergeometric_cases(draw, max_population=90):
    population = draw(st.integers(1, max_population))
    successes = draw(st.integers(0, population))
    draws = draw(st.integers(0, population))
    k = draw(st.integers(-1, draws + 1))
    return k, population, successes, draws


@PROPERTY
@given(hypergeometric_cases())
def test_the_tail_is_the_exact_hypergeometric_tail(case):
    k, population, successes, draws = case
    expected = brute_upper_tail(k, population, successes, draws)
    got = hypergeometric_upper_tail(k, population=population, successes=successes, draws=draws)
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-15)


@PROPERTY
@given(
    n_switched=st.integers(1, 160),
    n_control=st.integers(1, 160),
    bad_share=st.floats(0, 1),
    alpha=st.sampled_from([0.0033, 0.01, 0.05]),
)
def test_given_the_totals_identical_cohorts_are_called_worse_at_most_alpha_of_the_time(
    n_switched, n_control, bad_share, alpha
):
    """Exact size: if switching changed nothing, the bad outcomes fall on the switched side like a random draw
    (hypergeometric). Summing, by brute force, the probability of every split the test calls significant gives
    the test's false-alarm rate for these totals: it never exceeds alpha, whatever the sizes and base rate."""
    population = n_switched + n_control
    total_bad = round(bad_share * population)
    false_alarm = 0.0
    for bad_switched in range(max(0, total_bad - n_control), min(n_switched, total_bad) + 1):
        p = p_switched_worse(
            bad_switched=bad_switched,
            n_switched=n_switched,
            bad_control=total_bad - bad_switched,
            n_control=n_control,
        )
        if p < alpha:
            false_alarm += (
                math.comb(total_bad, bad_switched)
                * math.comb(population - total_bad, n_switched - bad_switched)
                / math.comb(population, n_switched)
            )
    assert false_alarm <= alpha + 1e-12


def harm_ceiling(trials: int, rate: float, tail: float = 1e-6) -> int:
    """The smallest count c with P(Binomial(trials, rate) >= c) < tail: seeing c harms or more would mean the
    comparison shows harm more often than `rate` (with odds of a wrong call below `tail`)."""
    cumulative = 0.0
    for c in range(trials + 1):
        cumulative += math.comb(trials, c) * rate**c * (1 - rate) ** (trials - c)
        if 1 - cumulative < tail:
            return c + 1
    return trials + 1


def identical_sides(rng, *, coverage, error_rate, sales_per_window):
    """Two sides drawn from one process: every operation is an error with the same chance, falls in the window or
    in the period before it with equal chance (a steady rate), and a sale carries a server_id with the same
    chance on both sides."""

    def side():
        operations = sales_per_window + rng.binomialvariate(2 * sales_per_window, 0.5)  # both periods
        after = rng.binomialvariate(operations, 0.5)
        errors = rng.binomialvariate(after, error_rate)
        sales = after - errors
        before = operations - after
        return Side(
            bars=10,
            bar_hours=240.0,
            sales=sales,
            with_server=rng.binomialvariate(sales, coverage),
            sales_before=before - rng.binomialvariate(before, error_rate),
            errors=errors,
        )

    return side(), side()


@SIMULATION
@given(
    coverage=st.floats(0.5, 1.0),
    error_rate=st.floats(0.0, 0.2),
    sales_per_window=st.integers(250, 1500),
    false_alarm_rate=st.sampled_from([0.01, 0.05]),
    seed=st.integers(0, 2**32 - 1),
)
def test_identical_cohorts_never_show_harm_beyond_the_false_alarm_rate(
    coverage, error_rate, sales_per_window, false_alarm_rate, seed, settings_override
):
    """The whole comparison (three metrics, no minimum effect to hide behind) run on 200 pairs of identical
    cohorts: it calls harm no more often than the configured rate allows."""
    settings_override(
        ROLLOUT_COHORT_FALSE_ALARM_RATE=false_alarm_rate,
        ROLLOUT_COHORT_MIN_EFFECT={"coverage": 0, "error_rate": 0, "sales_rate": float("-inf")},
        ROLLOUT_COHORT_MIN_SAMPLE={"coverage": 200, "error_rate": 200, "sales_rate": 200},
    )
    rng = random.Random(seed)
    trials = 200
    harms = 0
    for _ in range(trials):
        switched, control = identical_sides(
            rng, coverage=coverage, error_rate=error_rate, sales_per_window=sales_per_window
        )
        verdict, _, _ = judge(switched, control)
        harms += verdict == HARM
    assert harms < harm_ceiling(trials, false_alarm_rate)


def test_the_false_alarm_rate_is_split_over_the_three_metrics(settings):
    settings.ROLLOUT_COHORT_FALSE_ALARM_RATE = 0.03
    assert cohort_verdicts.per_metric_alpha() == pytest.approx(0.01)


@pytest.fixture
def settings_override(settings):
    """Hypothesis calls the test many times with one pytest fixture: set settings per example."""

    def apply(**values):
        for name, value in values.items():
            setattr(settings, name, value)

    return apply


# --- Verdicts on figures ---------------------------------------------------------------------------------------


def side(sales, with_server=None, *, before=None, errors=0, bars=10):
    return Side(
        bars=bars,
        bar_hours=bars * 24.0,
        sales=sales,
        with_server=sales if with_server is None else with_server,
        sales_before=sales if before is None else before,
        errors=errors,
    )


def test_the_issue_example_is_harm_on_coverage_with_its_p_value():
    verdict, summary, metrics = judge(side(1000, 912), side(1000, 978))
    assert verdict == HARM
    assert summary == "harm: coverage 91.2 % vs 97.8 %, p < 0.001"
    assert [m.verdict for m in metrics] == [HARM, NO_HARM, NO_HARM]


def test_a_higher_error_rate_is_harm():
    verdict, summary, _ = judge(side(1000, errors=40), side(1000, errors=5))
    assert verdict == HARM and summary.startswith("harm: error rate 3.8 % vs 0.5 %")


def test_a_drop_in_sales_beyond_the_controls_own_change_is_harm():
    verdict, summary, _ = judge(side(600, before=1000), side(950, before=1000))
    assert verdict == HARM and summary.startswith("harm: sales per bar per hour 2.50 (before 4.17) vs 3.96")


def test_quiet_bars_that_stay_quiet_are_not_harmed():
    """Test bars sell less than the rest: that is not harm; only a drop against their own past is."""
    verdict, _, metrics = judge(side(300, before=300, bars=2), side(5000, before=5000, bars=50))
    assert verdict == NO_HARM and metrics[2].verdict == NO_HARM


def test_a_significant_but_tiny_difference_is_not_harm(settings):
    settings.ROLLOUT_COHORT_MIN_EFFECT = {"coverage": 1.0, "error_rate": 0.5, "sales_rate": 10.0}
    verdict, _, metrics = judge(side(1_000_000, 995_000), side(1_000_000, 999_000))  # 0.4 points
    assert metrics[0].p_value < 1e-9 and verdict == NO_HARM


def test_better_figures_on_the_switched_side_are_no_evidence_of_harm():
    verdict, summary, metrics = judge(side(1000, 999), side(1000, 950))
    assert verdict == NO_HARM and metrics[0].p_value > 0.99
    assert summary == "no evidence of harm on server_id coverage, error-level audit rate, sales per bar per hour"


@pytest.mark.parametrize(("switched", "control"), [(199, 5000), (5000, 199), (0, 0)])
def test_below_the_minimum_sample_on_either_side_is_not_enough_data(switched, control):
    verdict, summary, metrics = judge(side(switched, 0), side(control))
    assert verdict == NOT_ENOUGH and metrics[0].verdict == NOT_ENOUGH and metrics[0].p_value is None
    assert "of 200 sales" in summary


def test_harm_is_reported_even_while_another_metric_lacks_data(settings):
    settings.ROLLOUT_COHORT_MIN_SAMPLE = {"coverage": 200, "error_rate": 200, "sales_rate": 10_000}
    verdict, _, metrics = judge(side(1000, 900), side(1000))
    assert verdict == HARM and metrics[2].verdict == NOT_ENOUGH


@pytest.mark.parametrize(
    ("p", "text"), [(0.0004, "p < 0.001"), (0.004, "p < 0.01"), (0.0412, "p = 0.04"), (0.5, "p = 0.50")]
)
def test_p_values_read_as_people_write_them(p, text):
    assert format_p(p) == text


def test_impossible_counts_are_refused():
    with pytest.raises(ValueError):
        p_switched_worse(bad_switched=5, n_switched=3, bad_control=0, n_control=10)
    with pytest.raises(ValueError):
        p_switched_worse(bad_switched=-1, n_switched=3, bad_control=0, n_control=10)


def test_a_million_sales_are_judged_without_summing_a_million_terms():
    p = p_switched_worse(bad_switched=60_000, n_switched=2_500_000, bad_control=110_000, n_control=5_000_000)
    assert p < 1e-50
    assert p_switched_worse(bad_switched=50_000, n_switched=2_500_000, bad_control=100_000, n_control=5_000_000) == (
        pytest.approx(0.5, abs=0.01)
    )
