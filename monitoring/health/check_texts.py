"""How each health check speaks to a person: its name in words, its value in the unit of its threshold, the sample
it stands on, what it means, what to do and the runbook section to read. ``check_presentation`` puts a result in
these words for the dashboard, the status partial, the run page, the alert list, the cockpit and the alert mail,
so they all say the same words (STYLE.md "Pages for people").
"""

from dataclasses import dataclass

from django.urls import reverse

# Runbook sections the panel serves (monitoring/health/runbook_markdown.py renders the runbook with these anchors).
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
