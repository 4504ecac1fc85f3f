"""The statistics behind "are the switched bars doing worse?": a one-sided two-proportion test, in plain Python.

The test is Fisher's exact test: given both sides' sample sizes and the total number of bad outcomes (sales
without server_id, errors, sales that fell in the period before), how likely is it that the switched side got
at least as many of them as it did, if switching made no difference? The answer is a hypergeometric tail,
summed exactly in log space. Being exact and conditional, the test can only err on the safe side: when both
sides are identical, it says "harm" at most as often as its threshold allows, whatever the sample sizes and the
base rate (a normal-approximation z-test cannot promise that for small or lopsided samples, and the property
tests in tests/rollout/test_analysis.py would catch it). Summing starts at the observed count and stops when the
terms no longer matter, so a million sales cost a few thousand terms, not a million.
"""

from math import exp, lgamma

# A term smaller than this share of the running sum no longer changes the p-value in double precision.
NEGLIGIBLE = 1e-17


def _log_comb(n: int, k: int) -> float:
    return lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1)


def _log_pmf(k: int, *, population: int, successes: int, draws: int) -> float:
    return _log_comb(successes, k) + _log_comb(population - successes, draws - k) - _log_comb(population, draws)


def _tail_sum(start: int, stop: int, step: int, *, population: int, successes: int, draws: int, mode: int) -> float:
    """Sum of the pmf from ``start`` towards ``stop`` (inclusive) in steps of ±1, by the pmf's ratio recurrence."""
    big_n, big_k, n = population, successes, draws
    term = exp(_log_pmf(start, population=big_n, successes=big_k, draws=n))
    total, k = 0.0, start
    while True:
        total += term
        if k == stop:
            return total
        if step > 0:  # P(k+1) / P(k)
            ratio = (big_k - k) * (n - k) / ((k + 1) * (big_n - big_k - n + k + 1))
        else:  # P(k-1) / P(k)
            ratio = k * (big_n - big_k - n + k) / ((big_k - k + 1) * (n - k + 1))
        term *= ratio
        k += step
        # Past the mode the terms only shrink: stop once they are lost in the sum's last digit.
        moving_away = (k >= mode) if step > 0 else (k <= mode)
        if moving_away and term <= total * NEGLIGIBLE:
            return total


def hypergeometric_upper_tail(k: int, *, population: int, successes: int, draws: int) -> float:
    """P(X >= k) for X ~ Hypergeometric(population, successes, draws): the chance of drawing at least ``k`` of
    the ``successes`` when ``draws`` items are taken at random from ``population``."""
    if not 0 <= successes <= population or not 0 <= draws <= population:
        raise ValueError("successes and draws must lie between 0 and the population")
    low, high = max(0, draws - (population - successes)), min(draws, successes)
    if k <= low:
        return 1.0
    if k > high:
        return 0.0
    mode = (draws + 1) * (successes + 1) // (population + 2)
    args = {"population": population, "successes": successes, "draws": draws, "mode": mode}
    if k >= mode:
        return min(1.0, _tail_sum(k, high, +1, **args))
    # The upper tail holds the bulk of the mass: one minus the (short) lower tail is exact enough here, since
    # such p-values are large and never near a decision threshold.
    return max(0.0, 1.0 - _tail_sum(k - 1, low, -1, **args))


def p_switched_worse(*, bad_switched: int, n_switched: int, bad_control: int, n_control: int) -> float:
    """One-sided p-value that the switched side's share of bad outcomes is higher than the control's (Fisher's
    exact test): small when the switched side got more of the bad outcomes than chance would give it."""
    for value in (bad_switched, n_switched, bad_control, n_control):
        if value < 0:
            raise ValueError("counts cannot be negative")
    if bad_switched > n_switched or bad_control > n_control:
        raise ValueError("a side cannot have more bad outcomes than outcomes")
    return hypergeometric_upper_tail(
        bad_switched,
        population=n_switched + n_control,
        successes=bad_switched + bad_control,
        draws=n_switched,
    )


def format_p(p: float) -> str:
    """The p-value as people read it: "p < 0.001", "p < 0.01", "p = 0.04", "p = 0.52"."""
    if p < 0.001:
        return "p < 0.001"
    if p < 0.01:
        return "p < 0.01"
    return f"p = {p:.2f}"
