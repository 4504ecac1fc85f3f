"""BarTender's API figures from Prometheus (DESIGN §4d: "API error rate and P95 come from the API").

The runbook judges Phase 3 on the API's error rate and P95 latency. Those are the API's own figures, not something
the database can stand in for, so the panel reads them the way Flagger and Argo Rollouts read theirs: one PromQL
query per figure against a Prometheus HTTP API (``PROMETHEUS_URL``, ``/api/v1/query``). Without the setting the
checks say "not configured" and judge nothing; a query that finds no series, or no traffic (0/0), is "not
enough data"; an unreachable Prometheus is "unknown" with the reason.
"""

import json
import math
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from django.conf import settings

MAX_BODY = 1024 * 1024


class MetricsUnavailable(Exception):
    """Prometheus could not answer the query; the message says why in words."""


@dataclass(frozen=True)
class Reading:
    value: float | None  # None: no series, or no traffic (NaN)
    query: str


def configured() -> bool:
    return bool(settings.PROMETHEUS_URL)


def query(promql: str) -> Reading:
    """The first sample of an instant query (a single number is expected: aggregate in the query)."""
    base = settings.PROMETHEUS_URL.rstrip("/")
    if urllib.parse.urlsplit(base).scheme not in ("http", "https"):
        raise MetricsUnavailable(f"PROMETHEUS_URL must be an http(s) URL, not {base!r}")
    url = f"{base}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 (http(s) only)
    try:
        with urllib.request.urlopen(request, timeout=settings.PROMETHEUS_TIMEOUT_SECONDS) as response:  # noqa: S310
            body = response.read(MAX_BODY)
    except urllib.error.HTTPError as exc:
        detail = exc.read(2000).decode("utf-8", "replace")
        raise MetricsUnavailable(f"Prometheus answered HTTP {exc.code}: {_error_of(detail) or exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise MetricsUnavailable(f"Prometheus at {base} did not answer: {getattr(exc, 'reason', exc)}") from None
    try:
        document = json.loads(body)
    except ValueError:
        raise MetricsUnavailable("Prometheus answered something that is not JSON") from None
    if document.get("status") != "success":
        raise MetricsUnavailable(f"Prometheus refused the query: {document.get('error', 'no reason given')}")
    data = document.get("data") or {}
    result = data.get("result")
    if data.get("resultType") == "scalar":
        result = [{"value": result}]
    if not result:
        return Reading(None, promql)
    try:
        value = float(result[0]["value"][1])
    except (KeyError, IndexError, TypeError, ValueError):
        raise MetricsUnavailable("Prometheus answered a result the panel cannot read as a number") from None
    return Reading(None if math.isnan(value) or math.isinf(value) else value, promql)


def _error_of(body: str) -> str:
    try:
        return json.loads(body).get("error", "")
    except ValueError:
        return ""


# --- The two checks (registered in monitoring.health.health_checks.CHECKS) -----------------------------------------


def _check(name: str, promql: str, *, unit: str, critical: float, warning: float, now):
    from monitoring.health import health_checks as hc  # the check vocabulary; health_checks imports this module

    limits = f"critical > {critical:g} {unit}, warning > {warning:g} {unit}"
    if not configured():
        return hc.CheckOutcome(name=name, status=hc.UNKNOWN, threshold=limits,
                               error=f"{hc.NOT_CONFIGURED}: set PROMETHEUS_URL (the API's metrics)")  # fmt: skip
    try:
        reading = query(promql)
    except MetricsUnavailable as exc:
        return hc.CheckOutcome(name=name, status=hc.UNKNOWN, threshold=limits, error=str(exc), detail={"query": promql})
    detail = {"query": promql}
    if reading.value is None:
        detail.update(sample_text="no API traffic in the query's window", needed_text="API requests in the window")
        return hc.CheckOutcome(name=name, status=hc.INSUFFICIENT, threshold=limits, detail=detail)
    value = round(reading.value, 3)
    return hc.CheckOutcome(name=name, status=hc._above(value, critical=critical, warning=warning), value=value,
                           threshold=limits, detail=detail)  # fmt: skip


def check_api_error_rate(*, now):
    """The API's 5xx share, % (runbook Phase 3: "Error rate > 1% → Immediate rollback"; target < 0.1 %)."""
    from monitoring.health.health_checks import threshold

    return _check("api_error_rate", settings.PROMETHEUS_API_ERROR_RATE_QUERY, unit="%",
                  critical=threshold("api_error_rate_critical_pct"), warning=threshold("api_error_rate_warning_pct"),
                  now=now)  # fmt: skip


def check_api_p95_latency(*, now):
    """The API's P95 latency, ms (runbook: target < 500 ms, critical alert > 1 s)."""
    from monitoring.health.health_checks import threshold

    return _check(
        "api_p95_latency", settings.PROMETHEUS_API_P95_QUERY, unit="ms",
        critical=threshold("api_p95_critical_ms"), warning=threshold("api_p95_warning_ms"), now=now,
    )  # fmt: skip
