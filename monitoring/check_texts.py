"""How each health check speaks to a person: its name in words, its value in the unit of its threshold, the sample
it stands on, what it means, what to do and the runbook section to read. One presentation module that the
dashboard, the status partial, the run page, the alert list, the cockpit and the alert mail all use, so they say
the same words (STYLE.md "Pages for people").
"""

import json
from dataclasses import dataclass, field

from django.urls import reverse

# Runbook sections the panel serves (monitoring/runbook_markdown.py renders the runbook with these anchors).
CRITICAL_ALERTS = "critical-alerts-requires-immediate-action"
WARNING_ALERTS = "warning-alerts-monitor-closely"
HEALTH_QUERIES = "health-check-queries"
RLS_VERIFICATION = "rls-policy-verification"
DATA_VALIDATION = "data-validation-checklist"
OPTION_A = "option-a-feature-flag-rollback-safest"
ROOT_CAUSE = "root-cause-analysis-after-rollback"
DAY1 = "day-1-after-full-rollout"


@dataclass(frozen=True)
class CheckText:
    title: str
    unit: str  # "%", "ms" or "" (a count)
    counts: str  # what a count value counts ("sales"), for values without a unit
    meaning: str
    todo: str
    section: str


TEXTS: dict[str, CheckText] = {
    "resolution_error_rate": CheckText(
        "Server names that could not be resolved (last 5 min)",
        "%",
        "",
        "The share of server names typed in simplified-mode bars that matched no staff member, so the sale was "
        "refused. Above the line, servers are blocked at the till.",
        "Open the audit log filtered to server_id_resolution errors to see which bars and names fail; add the "
        "missing name mappings. If the rate keeps rising, pull the kill switch (Option A).",
        CRITICAL_ALERTS,
    ),
    "rls_violations": CheckText(
        "Row-level security refusals reported by the app",
        "",
        "refusals",
        "Queries the database's row-level security refused. A few are client bugs; more than the line can mean "
        "someone is trying to read or write other bars' sales.",
        "Open the audit log filtered to rls_violation to see which bar and user; tell the database team "
        "(escalation tier 2).",
        CRITICAL_ALERTS,
    ),
    "orphaned_sales": CheckText(
        "Sales without a server in simplified-mode bars (last hour)",
        "",
        "sales",
        "New sales in simplified-mode bars should always name their server; these were stored without one, so "
        "they will be missing from that server's figures.",
        "Open the root-cause page (orphaned sales) to see which bars; if new ones keep arriving, pull the kill "
        "switch (Option A): the bars go back to the old behaviour and no data is lost.",
        CRITICAL_ALERTS,
    ),
    "orphaned_fks": CheckText(
        "Sales, consignments and returns naming a user who does not exist",
        "",
        "rows",
        "server_id values that point at no user. The foreign keys (ON DELETE SET NULL) should make this "
        "impossible; any row here means a constraint is missing or was bypassed.",
        "Tell the database team: check the foreign keys of migration step 4 and the rows listed on the run page.",
        DATA_VALIDATION,
    ),
    "db_connections": CheckText(
        "Database connections in use",
        "%",
        "",
        "The share of PostgreSQL's connection slots taken. Near the top, new requests wait or fail.",
        "Look for a stuck worker or a traffic spike; lower the panel's workers or raise max_connections with "
        "the database team.",
        CRITICAL_ALERTS,
    ),
    "server_id_coverage": CheckText(
        "Sales that carry a server (last 24 h)",
        "%",
        "",
        "The share of the last day's sales that say which staff member made them, counting only the sales that "
        "should: those made while their bar's flags were on, and the history the backfill filled. With the flags "
        "off, sales are made without a server by design and are not counted. Below the line, per-server figures and "
        "tips go wrong.",
        "Open the migration log and the audit log for the bars without server; map the missing names. If new "
        "sales lose their server, pull the kill switch (Option A).",
        HEALTH_QUERIES,
    ),
    "fallback_mappings": CheckText(
        "Backfilled sales that needed a fallback",
        "%",
        "",
        "The share of old sales whose typed name matched no mapping during the backfill, so a fallback chose "
        "the server (or none).",
        "Open the migration log's summary by reason; add the missing mappings on the bars' pages and run the "
        "backfill again for those bars.",
        WARNING_ALERTS,
    ),
    "serverid_errors": CheckText(
        "Errors mentioning serverId (last hour)",
        "",
        "errors",
        "Error-level audit logs whose message names the server field: the app is failing around server resolution.",
        "Open the audit log's error chart and its patterns to find the commonest message and the bars it hits.",
        WARNING_ALERTS,
    ),
    "error_logs": CheckText(
        "Error rate in the audit log (last 5 min)",
        "%",
        "",
        "Error-level audit logs per operation (a sale or an error) in the last 5 minutes. Above the line, "
        "something the rollout changed is failing often.",
        "Open the audit log filtered to level error for the last minutes; if the errors come from switched bars, "
        "pause the rollout or pull the kill switch (Option A).",
        HEALTH_QUERIES,
    ),
    "rls_policies": CheckText(
        "Row-level security switched on for sales, consignments and returns",
        "",
        "problems",
        "Each table must have row-level security enabled with select, insert, update and delete policies; "
        "otherwise any user of the app could read every bar's sales.",
        "Tell the database team at once: re-apply migration step 3 (the RLS policy) and check the tables named "
        "on the run page.",
        RLS_VERIFICATION,
    ),
    "indexes_usable": CheckText(
        "Indexes serve the rollout's queries",
        "",
        "problems",
        "The operatingMode and server_id queries should use their indexes; a sequential scan on a big table "
        "makes every page and the app slower.",
        "Check that migration step 5's index exists and run ANALYZE on the table; the query plans are on the "
        "run page (for engineers).",
        HEALTH_QUERIES,
    ),
    "adoption_rate": CheckText(
        "Bars in simplified mode",
        "%",
        "",
        "The share of all bars using simplified mode, against the share the current rollout stage has switched.",
        "If it is below what the stage switched, some bars went back to full mode: look at the rollout page's "
        "stages and the bars' operating modes.",
        WARNING_ALERTS,
    ),
    "query_latency": CheckText(
        "Slowest query under row-level security (mean)",
        "ms",
        "",
        "The mean time of the slowest statement the RLS policies weigh on that BarTender's clients ran since the "
        "previous check, from pg_stat_statements (the panel's own maintenance never counts). The runbook wants "
        "under 50 ms; over 1 s the app feels broken.",
        "Tell the database team; the statement is on the run page (for engineers). Latency never pulls the kill "
        "switch: the flags are not its cure.",
        CRITICAL_ALERTS,
    ),
    "api_error_rate": CheckText(
        "API error rate (5xx share, from Prometheus)",
        "%",
        "",
        "The share of BarTender API requests answered with a 5xx error, read from Prometheus (PROMETHEUS_URL). The "
        "runbook's Phase 3: it should stay under 0.1 %; over 1 % means an immediate rollback.",
        "Over 1 %: the kill switch fires by itself while a stage is live (the flags cure it). Look at the API's logs "
        "for what fails.",
        CRITICAL_ALERTS,
    ),
    "api_p95_latency": CheckText(
        "API P95 latency (from Prometheus)",
        "ms",
        "",
        "The 95th percentile of BarTender API response times, read from Prometheus. The runbook's Phase 3: it should "
        "stay under 500 ms; over 1 s is a critical alert (RLS performance).",
        "Tell the database team (RLS plans, indexes). Latency never pulls the kill switch: the flags are not its cure.",
        CRITICAL_ALERTS,
    ),
    "rls_client_latency": CheckText(
        "BarTender's own queries under row-level security (slowest)",
        "ms",
        "",
        "The app's real queries, run now as a server and as a manager under the RLS policies; the slowest one.",
        "Tell the database team; the timings per query are on the run page.",
        CRITICAL_ALERTS,
    ),
    "rls_enforcement": CheckText(
        "What sampled users see under row-level security (Day 1)",
        "",
        "people",
        "A few real servers and managers are picked each run and query the sales as the app does (signed in as "
        "them, under the RLS policies). A server must see exactly their own sales, a manager exactly their bars' "
        "sales. Anyone seeing more, or less, means a policy is wrong: more is a data leak.",
        "Tell the database team at once (escalation tier 2): compare the sales policies with migration step 3; the "
        "people and what each saw are on the run page. The flags do not change the policies, so this never pulls "
        "the kill switch.",
        DAY1,
    ),
    "consignment_return_coverage": CheckText(
        "Consignments and returns that carry a server",
        "%",
        "",
        "The share of consignments and of returns that say which staff member made them (the lower of the two), "
        "counting the history the backfill filled and the rows made while their bar's flags were on.",
        "Open the migration log for consignments and returns without a server; map the missing names on the bars' "
        "pages and run the backfill again for those bars.",
        DATA_VALIDATION,
    ),
    "sales_bar_id": CheckText(
        "Sales, consignments and returns without a bar",
        "",
        "rows",
        "Every row needs its bar: the row-level security policies decide who sees a row by its bar_id. A row "
        "without one is invisible to its bar's staff, or leaks if a policy treats it loosely.",
        "Tell the database team: bar_id should be NOT NULL; find how the rows listed on the run page were written.",
        DATA_VALIDATION,
    ),
    "migration_failures": CheckText(
        "Backfilled rows whose fallback failed",
        "%",
        "",
        "The share of the backfill's log rows (migration_server_id_log) where even the fallback failed, so the row "
        "got no server. The runbook expects none, or very few.",
        "Open the migration log filtered to failed fallbacks and its summary by reason; fix the mappings and run the "
        "backfill again for those bars.",
        WARNING_ALERTS,
    ),
}

GENERIC = CheckText("", "", "", "", "", HEALTH_QUERIES)
STATUS_WORDS = {
    "ok": "OK",
    "warning": "Warning",
    "critical": "Critical",
    "unknown": "Could not run",
    "insufficient": "Not enough data",
}
# Detail keys already said elsewhere (the sample line) or only for engineers (shown behind <details>).
_SAID_ELSEWHERE = {"sample", "min_sample", "sample_text", "needed_text", "snapshot"}
_FOR_ENGINEERS = {"plans", "slowest", "queries_ms", "policies", "people"}
DETAIL_LABELS = {
    "failures": "Refused resolutions",
    "resolved_sales": "Sales with a resolved server",
    "window_minutes": "Window",
    "window_hours": "Window",
    "used": "Connections in use",
    "max_connections": "Connections allowed (max_connections)",
    "sales": "Sales",
    "with_server_id": "Sales with a server",
    "logged": "Backfilled sales",
    "fallbacks": "Needed a fallback",
    "failed": "Fallback failed",
    "errors": "Error-level logs",
    "error_rate_pct": "Error rate",
    "problems": "Problems found",
    "bars": "Bars",
    "simplified": "Bars in simplified mode",
    "role": "Database role used",
    "skipped_no_such_user": "Queries skipped (no such user yet)",
    "tables": "Per table",
    "flags_on_sales": "Sales of bars whose flags were on",
    "history_sales": "Backfilled history (sales before the backfill began)",
    "all_sales": "All sales in the window",
    "all_with_server_id": "All sales with a server",
    "counted": "Counted",
    "history_before": "History ends at (the last full backfill's start)",
}


def _number(value, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        text = f"{value:,.2f}".rstrip("0").rstrip(".")
    else:
        text = f"{int(value):,}"
    return f"{text} {unit}".strip() if unit else text


def text_for(check_name: str) -> CheckText:
    return TEXTS.get(check_name) or CheckText(check_name.replace("_", " ").capitalize(), "", "", "", "", HEALTH_QUERIES)


def runbook_url(section: str) -> str:
    return f"{reverse('monitoring:runbook')}#{section}"


def threshold_words(threshold: str) -> str:
    """ "critical > 5 %" → "critical above 5 %" (the stored threshold, in words)."""
    return (
        (threshold or "")
        .replace(" > ", " above ")
        .replace(" < ", " below ")
        .replace(">", "above ")
        .replace("<", "below ")
    )


@dataclass
class CheckPresentation:
    name: str
    title: str
    status: str
    status_words: str
    value_text: str
    threshold_text: str
    sample_text: str
    meaning: str
    todo: str
    runbook_url: str
    secondary: str = ""
    error: str = ""
    detail_rows: list = field(default_factory=list)
    engineer_rows: list = field(default_factory=list)
    plans: list = field(default_factory=list)


def _value(name: str, result, text: CheckText) -> tuple[str, str]:
    """(value in the threshold's unit, a secondary figure)."""
    detail = result.detail or {}
    if result.status == "insufficient":
        return "not enough data", ""
    if result.error and result.value is None:
        return "could not run", ""
    if name == "error_logs":
        # Judged as a rate (critical > 1 %), warned on as a count: the rate first, in %.
        rate = detail.get("error_rate_pct")
        errors = detail.get("errors", result.value)
        return _number(
            rate if rate is not None else 0.0, "%"
        ), f"{_number(errors)} error-level log{'s' if errors != 1 else ''}"
    if text.unit:
        return _number(result.value, text.unit), ""
    return _number(result.value) + (f" {text.counts}" if text.counts else ""), ""


def _sample(name: str, result) -> str:
    detail = result.detail or {}
    window = ""
    if detail.get("window_minutes"):
        minutes = detail["window_minutes"]
        window = f" in the last {minutes} min" if minutes < 60 else f" in the last {minutes // 60} h"
    elif detail.get("window_hours"):
        window = f" in the last {detail['window_hours']} h"
    if name == "db_connections" and "used" in detail:
        return f"{detail['used']:,} of {detail['max_connections']:,} connections"
    if detail.get("sample_text"):
        return f"of {detail['sample_text']}{window}"
    return window.strip()


def _detail_value(key: str, value) -> str:
    if key == "window_minutes":
        return f"{value} min"
    if key == "window_hours":
        return f"{value} h"
    if key == "error_rate_pct":
        return _number(value, "%")
    if key == "tables" and isinstance(value, dict):
        parts = []
        for table, info in value.items():
            if isinstance(info, dict) and "coverage_pct" in info:
                parts.append(f"{table}: {_number(info.get('coverage_pct'), '%')} of {_number(info.get('counted'))} "
                             f"counted ({_number(info.get('all_rows'))} in all)")  # fmt: skip
            elif isinstance(info, dict):
                guard = f" (guaranteed by {info['guaranteed_by']})" if info.get("guaranteed_by") else ""
                parts.append(f"{table}: {_number(info.get('orphans'))}{guard}")
        return "; ".join(parts)
    if isinstance(value, list):
        return "; ".join(str(item) for item in value) or "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _plans(detail: dict) -> list[dict]:
    """EXPLAIN nodes of the indexes check as rows: query, which plan, node, table, index."""
    rows = []
    for query, plans in (detail.get("plans") or {}).items():
        for which, label in (("chosen", "as the planner chooses"), ("index_only", "with sequential scans off")):
            for node in plans.get(which) or []:
                rows.append(
                    {
                        "query": query.replace("_", " "),
                        "plan": label,
                        "node": node.get("node", ""),
                        "table": node.get("relation") or "",
                        "index": node.get("index") or "",
                    }
                )
    return rows


def _engineer_rows(detail: dict) -> list[tuple[str, str]]:
    rows = []
    for item in detail.get("slowest") or []:
        rows.append(
            (
                f"{_number(item.get('mean_ms'), 'ms')} mean over {_number(item.get('calls'))} calls",
                item.get("query", ""),
            )
        )
    for query, ms in (detail.get("queries_ms") or {}).items():
        rows.append((_number(ms, "ms"), query))
    for person in detail.get("people") or []:
        rows.append((f"{person.get('kind')} {person.get('user')}",
                     f"sees {_number(person.get('sees'))} (should see {_number(person.get('should_see'))}), "
                     f"not theirs: {_number(person.get('sees_not_theirs'))}"))  # fmt: skip
    for table, commands in (detail.get("policies") or {}).items():
        rows.append((f"{table} policies", ", ".join(commands) or "none"))
    return rows


def present(name: str, result) -> CheckPresentation:
    """Everything a page or a mail says about one check result (``result`` may be None: not run yet)."""
    text = text_for(name)
    if result is None:
        return CheckPresentation(
            name, text.title, "unknown", "Not run yet", "—", "", "", text.meaning, text.todo, runbook_url(text.section)
        )
    value, secondary = _value(name, result, text)
    detail = result.detail or {}
    rows = [
        (DETAIL_LABELS.get(key, key.replace("_", " ").capitalize()), _detail_value(key, val))
        for key, val in detail.items()
        if key not in _SAID_ELSEWHERE and key not in _FOR_ENGINEERS and val not in (None, "", [], {})
    ]
    return CheckPresentation(
        name=name,
        title=text.title,
        status=result.status,
        status_words=STATUS_WORDS.get(result.status, result.status),
        value_text=value,
        threshold_text=threshold_words(result.threshold),
        sample_text=_sample(name, result),
        meaning=text.meaning,
        todo=text.todo,
        runbook_url=runbook_url(text.section),
        secondary=secondary,
        error=result.error,
        detail_rows=rows,
        engineer_rows=_engineer_rows(detail),
        plans=_plans(detail),
    )


def alert_lines(alert, *, event_kind: str = "") -> list[tuple[str, str]]:
    """What the alert list and the alert mail both say about an alert, as (label, text) lines."""
    shown = present(alert.check_name, alert.last_result)
    value = shown.value_text + (f" ({shown.secondary})" if shown.secondary else "")
    lines = [
        ("Check", shown.title),
        ("Severity", STATUS_WORDS.get(alert.severity, alert.severity)),
        ("State", alert.get_state_display() + (f" ({event_kind.replace('_', ' ')})" if event_kind else "")),
        ("Value", value + (f" — {shown.threshold_text}" if shown.threshold_text else "")),
    ]
    if shown.sample_text:
        lines.append(("Sample", shown.sample_text))
    if alert.last_result and alert.last_result.streak_text:
        lines.append(("Failing runs", alert.last_result.streak_text))
    if shown.error:
        lines.append(("Error", shown.error))
    lines += [("What it means", shown.meaning), ("What to do", shown.todo), ("Runbook", shown.runbook_url)]
    return lines


def alert_subject(alert, *, event_kind: str) -> str:
    title, severity = text_for(alert.check_name).title, STATUS_WORDS.get(alert.severity, alert.severity)
    return f"[BarTender health] {severity}: {title} — {event_kind}"
