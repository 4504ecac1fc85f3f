"""`GET /metrics` in the Prometheus text format (issue 23), for Prometheus/Grafana and their alerting rules.

Two kinds of figures:

- **From the database, read at scrape time** by :class:`DatabaseCollector`: the health checks' latest values and
  statuses, unresolved alerts and incidents, the rollout stage, bars switched, each flag's state, the latest
  backfill run and the last health run's age. One fixed set of six small queries per scrape (every one bounded
  by an index, a LIMIT or a handful of rows; together under a ``SET LOCAL statement_timeout``), so whichever
  granian worker answers a scrape, it answers the same figures.
- **Per process**: the flag API's request counter and latency histogram, kept in the memory of the worker that
  served the requests and labelled with its ``pid``; a scrape returns the answering worker's series (sum over
  ``pid`` in PromQL: ``sum by (endpoint) (rate(bartender_flag_api_requests_total[5m]))``).

Protected by a scrape token: ``METRICS_TOKEN`` (``Authorization: Bearer <token>``). Without a configured token
the endpoint does not exist (404); a missing token is a 401, a wrong one a 403.
"""

import hmac
import os
import time

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, StateSetMetricFamily

from adminpanel.api_auth import api_error
from monitoring.enums import CheckStatus, Severity
from monitoring.health.health_checks import CHECKS
from rollout.models import STAGE_ORDER

REGISTRY = CollectorRegistry(auto_describe=False)
# Buckets around the flag API's measured latencies (sub-millisecond from the cache, a few ms on a miss).
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
API_REQUESTS = Counter(
    "bartender_flag_api_requests",
    "Flag API requests answered by this process, by endpoint and HTTP status code.",
    ["endpoint", "code", "pid"],
    registry=REGISTRY,
)
API_LATENCY = Histogram(
    "bartender_flag_api_request_duration_seconds",
    "Flag API answer time in this process (from the view's start to its response), by endpoint.",
    ["endpoint", "pid"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)


def observe(endpoint: str, status: int, seconds: float) -> None:
    """Count one flag API answer of this process (called by rollout.flags.api)."""
    pid = str(os.getpid())
    API_REQUESTS.labels(endpoint, str(status), pid).inc()
    API_LATENCY.labels(endpoint, pid).observe(seconds)


def timed(endpoint: str):
    """Decorator: a flag API view counted and timed under `endpoint`."""

    def wrap(view):
        def timed_view(request, *args, **kwargs):
            started = time.perf_counter()
            response = view(request, *args, **kwargs)
            observe(endpoint, response.status_code, time.perf_counter() - started)
            return response

        timed_view.__name__ = view.__name__
        timed_view.__doc__ = view.__doc__
        timed_view.__dict__.update(view.__dict__)
        return timed_view

    return wrap


# --- The database figures, read at scrape time -----------------------------------------------------------------
ALERT_SEVERITIES = (CheckStatus.WARNING, CheckStatus.CRITICAL, CheckStatus.UNKNOWN)
ALERT_STATES = ("open", "acknowledged")
BACKFILL_STATUSES = ("running", "paused", "finished", "failed")

# The latest result of each check of the suite: one index probe (health_result_check_idx) per check name.
HEALTH_SQL = """
SELECT n.name, r.status, r.value
FROM unnest(%s::text[]) AS n(name)
LEFT JOIN LATERAL (
    SELECT status, value FROM health_check_results WHERE check_name = n.name ORDER BY run_id DESC LIMIT 1
) r ON true
"""
LAST_RUN_SQL = "SELECT max(finished_at) FROM health_runs"
ALERTS_SQL = "SELECT severity, state, count(*) FROM health_alerts WHERE state <> 'resolved' GROUP BY 1, 2"
INCIDENTS_SQL = "SELECT severity, count(*) FROM incidents WHERE status <> 'resolved' GROUP BY 1"
ROLLOUT_SQL = """
SELECT s.stage, s.paused,
       (SELECT count(DISTINCT c.bar_id) FROM rollout_bar_changes c JOIN rollout_steps st ON st.id = c.step_id
        WHERE c.rolled_back_at IS NULL AND st.rolled_back_at IS NULL)
FROM (SELECT 1) one LEFT JOIN rollout_state s ON s.id = 1
"""
FLAGS_SQL = """
SELECT f.key, f.enabled_globally, f.kill_switch_engaged,
       (SELECT count(*) FROM feature_flag_bars b WHERE b.featureflag_id = f.id)
FROM feature_flags f ORDER BY f.key LIMIT 50
"""
BACKFILL_SQL = """
SELECT status, phase, rows_total, rows_done, active_seconds, dry_run
FROM backfill_runs ORDER BY started_at DESC, id DESC LIMIT 1
"""
STATEMENT_TIMEOUT_MS = 2000


def read_figures() -> dict:
    """The figures of one scrape, in one transaction with every statement time-limited (reads only)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}")
        cursor.execute(HEALTH_SQL, [[check.name for check in CHECKS]])
        checks = cursor.fetchall()
        cursor.execute(LAST_RUN_SQL)
        last_run = cursor.fetchone()[0]
        cursor.execute(ALERTS_SQL)
        alerts = cursor.fetchall()
        cursor.execute(INCIDENTS_SQL)
        incidents = cursor.fetchall()
        cursor.execute(ROLLOUT_SQL)
        rollout = cursor.fetchone()
        cursor.execute(FLAGS_SQL)
        flags = cursor.fetchall()
        cursor.execute(BACKFILL_SQL)
        backfill = cursor.fetchone()
    return {
        "checks": checks, "last_run": last_run, "alerts": alerts, "incidents": incidents, "rollout": rollout,
        "flags": flags, "backfill": backfill,
    }  # fmt: skip


def _gauge(name, doc, labels=(), rows=()):
    family = GaugeMetricFamily(name, doc, labels=list(labels))
    for label_values, value in rows:
        family.add_metric(list(label_values), float(value))
    return family


class DatabaseCollector:
    """A custom collector: every scrape reads the database once (read_figures) and yields the families."""

    def collect(self):
        figures = read_figures()
        now = timezone.now()

        status_values = [status.value for status in CheckStatus]
        value_family = GaugeMetricFamily(
            "bartender_health_check_value", "The latest value of each health check, in its threshold's unit.",
            labels=["check"],
        )  # fmt: skip
        status_family = StateSetMetricFamily(
            "bartender_health_check_status", "The latest status of each health check (1 for the current one).",
            labels=["check"],
        )  # fmt: skip
        for name, status, value in figures["checks"]:
            if value is not None:
                value_family.add_metric([name], float(value))
            current = status or CheckStatus.UNKNOWN
            status_family.add_metric([name], {s: s == current for s in status_values})
        yield value_family
        yield status_family

        last_run = figures["last_run"]
        yield _gauge(
            "bartender_health_last_run_age_seconds",
            "Seconds since the last health run finished (absent when none ever finished).",
            rows=[((), (now - last_run).total_seconds())] if last_run else [],
        )

        counts = {(severity, state): count for severity, state, count in figures["alerts"]}
        yield _gauge(
            "bartender_open_alerts", "Unresolved health alerts, by severity and state.", ["severity", "state"],
            [((sev, state), counts.get((sev, state), 0)) for sev in ALERT_SEVERITIES for state in ALERT_STATES],
        )  # fmt: skip
        incidents = dict(figures["incidents"])
        yield _gauge(
            "bartender_open_incidents", "Incidents not resolved, by severity.", ["severity"],
            [((sev,), incidents.get(sev, 0)) for sev in Severity.values],
        )  # fmt: skip

        stage, paused, bars_switched = figures["rollout"]
        stage_family = StateSetMetricFamily("bartender_rollout_stage", "The rollout stage (1 for the current one).")
        stage_family.add_metric([], {str(s): s == (stage or "off") for s in STAGE_ORDER})
        yield stage_family
        yield _gauge("bartender_rollout_paused", "1 while the rollout is paused.", rows=[((), bool(paused))])
        yield _gauge(
            "bartender_rollout_bars_switched",
            "Bars the rollout switched to simplified mode and has not rolled back.",
            rows=[((), bars_switched or 0)],
        )

        flags = figures["flags"]
        yield _gauge(
            "bartender_flag_enabled_globally", "1 when the flag is on for every bar.", ["flag"],
            [((key,), enabled and not killed) for key, enabled, killed, _ in flags],
        )  # fmt: skip
        yield _gauge(
            "bartender_flag_allow_listed_bars", "Bars on the flag's allow-list.", ["flag"],
            [((key,), allowed) for key, _, _, allowed in flags],
        )  # fmt: skip
        yield _gauge(
            "bartender_flag_kill_switch_engaged", "1 when the kill switch holds the flag off for every bar.",
            ["flag"], [((key,), killed) for key, _, killed, _ in flags],
        )  # fmt: skip

        backfill = figures["backfill"]
        if backfill is not None:
            status, phase, rows_total, rows_done, active_seconds, dry_run = backfill
            done = status == "finished" or phase == "done"
            ratio = 1.0 if done else (min(1.0, rows_done / rows_total) if rows_total else 0.0)
            rate = rows_done / active_seconds if active_seconds else 0.0
            yield _gauge("bartender_backfill_rows_total", "Rows the latest backfill run set out to do.",
                         rows=[((), rows_total)])  # fmt: skip
            yield _gauge("bartender_backfill_rows_done", "Rows the latest backfill run has done.",
                         rows=[((), rows_done)])  # fmt: skip
            yield _gauge("bartender_backfill_progress_ratio", "Share of the latest backfill run done (0 to 1).",
                         rows=[((), ratio)])  # fmt: skip
            yield _gauge("bartender_backfill_rows_per_second", "The latest backfill run's rate (rows per second "
                         "of batch time).", rows=[((), rate)])  # fmt: skip
            state_family = StateSetMetricFamily("bartender_backfill_status", "The latest backfill run's status.")
            state_family.add_metric([], {s: s == status for s in BACKFILL_STATUSES})
            yield state_family


REGISTRY.register(DatabaseCollector())


def _token_refusal(request: HttpRequest) -> HttpResponse | None:
    expected = settings.METRICS_TOKEN
    if not expected:
        return api_error(404, "not_found", "Metrics are off: no METRICS_TOKEN is configured.")
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return api_error(401, "token_missing", "Send Authorization: Bearer <METRICS_TOKEN>.",
                         **{"WWW-Authenticate": "Bearer"})  # fmt: skip
    if not hmac.compare_digest(token.strip().encode(), expected.encode()):
        return api_error(403, "token_invalid", "This is not the scrape token.")
    return None


@login_not_required
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    refusal = _token_refusal(request)
    if refusal is not None:
        return refusal
    response = HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response
